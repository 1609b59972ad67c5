#include "legacy/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmm/vm.h"

#define UART_RX	 0 /* DLAB=0 */
#define UART_TX	 0
#define UART_IER 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_THRI   0x02
#define IIR_NO_INT 0x01
#define IIR_THRI   0x02
#define IIR_FIFO   0xc0
#define LCR_DLAB   0x80
#define MCR_LOOP   0x10
#define LSR_THRE   0x20
#define LSR_TEMT   0x40

struct serial {
	struct vm *vm;
	int out_fd;
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thri_pending; /* THR-empty interrupt latched until IIR is read */
};

static void update_irq(struct serial *s)
{
	bool level = (s->ier & IER_THRI) && s->thri_pending;

	hv_irq_line(&s->vm->hv, SERIAL_COM1_IRQ, level);
}

static uint8_t read_msr(const struct serial *s)
{
	/* Loopback mirrors the modem control outputs, which autoconfig checks. */
	if (s->mcr & MCR_LOOP)
		return ((s->mcr & 0x0c) << 4) | ((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3);
	return 0xb0; /* DCD, DSR, CTS */
}

static uint8_t reg_read(struct serial *s, unsigned off)
{
	uint8_t v;

	switch (off) {
	case UART_RX:
		return (s->lcr & LCR_DLAB) ? s->dll : 0;
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR:
		v = (s->fcr & 1) ? IIR_FIFO : 0;
		if ((s->ier & IER_THRI) && s->thri_pending) {
			s->thri_pending = false; /* reading IIR clears a THRE interrupt */
			update_irq(s);
			return v | IIR_THRI;
		}
		return v | IIR_NO_INT;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return LSR_THRE | LSR_TEMT;
	case UART_MSR:
		return read_msr(s);
	case UART_SCR:
		return s->scr;
	}
	return 0;
}

static void put_char(struct serial *s, uint8_t c)
{
	if (s->out_fd >= 0 && !(s->mcr & MCR_LOOP) && write(s->out_fd, &c, 1) < 0)
		s->out_fd = -1;
	s->thri_pending = true;
	update_irq(s);
}

static void reg_write(struct serial *s, unsigned off, uint8_t v)
{
	switch (off) {
	case UART_TX:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			put_char(s, v);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* Enabling THRI with an empty THR raises the interrupt at once. */
			if ((v & IER_THRI) && !(s->ier & IER_THRI))
				s->thri_pending = true;
			s->ier = v & 0x0f;
			update_irq(s);
		}
		break;
	case UART_FCR:
		s->fcr = v;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	}
}

static void serial_read(void *priv, uint64_t off, void *data, unsigned len)
{
	struct serial *s = priv;
	uint8_t *p = data;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < len; i++)
		p[i] = reg_read(s, off + i);
	pthread_mutex_unlock(&s->lock);
}

static void serial_write(void *priv, uint64_t off, const void *data, unsigned len)
{
	struct serial *s = priv;
	const uint8_t *p = data;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < len; i++)
		reg_write(s, off + i, p[i]);
	pthread_mutex_unlock(&s->lock);
}

static const struct bus_ops serial_ops = { .read = serial_read, .write = serial_write };

int serial_create(struct vm *vm, int out_fd, struct serial **out)
{
	struct serial *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->vm = vm;
	s->out_fd = out_fd;
	s->mcr = 0x08;
	pthread_mutex_init(&s->lock, NULL);
	ret = bus_add(&vm->pio, SERIAL_COM1_BASE, 8, &serial_ops, s);
	if (ret) {
		serial_destroy(s);
		return ret;
	}
	*out = s;
	return 0;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}
