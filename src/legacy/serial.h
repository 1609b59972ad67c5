/* 8250/16550A UART on COM1 (0x3f8, IRQ 4): early console output. */
#ifndef KILN_LEGACY_SERIAL_H
#define KILN_LEGACY_SERIAL_H

struct vm;
struct serial;

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ	 4

/* Output goes to out_fd (-1 discards it). */
int serial_create(struct vm *vm, int out_fd, struct serial **out);
void serial_destroy(struct serial *s);

#endif
