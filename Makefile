# Kiln: the two commands are `make setup` and `make check` (see README.md).
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
MESON      ?= meson

.PHONY: all install setup check check-unit check-fuzz check-e2e check-gpu bench demo clean format

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)
	@# The default guest's initramfs carries the init: keep it in step with the build.
	@if [ -d $(BUILD)/images/generic/root ] && \
	    [ $(BUILD)/src/init/kiln-init -nt $(BUILD)/guest/initrd.img ]; then \
		BUILD=$(abspath $(BUILD)) scripts/guest-kernel.sh; fi

# The library, headers, pkg-config files, the CLI and the default guest kernel.
install: all
	meson install -C $(BUILD) --no-rebuild
	install -D -m 644 $(BUILD)/guest/vmlinuz $(BUILD)/guest/initrd.img \
		-t "$(DESTDIR)$$(meson introspect $(BUILD) --buildoptions | \
		python3 -c 'import json,sys; o={x["name"]:x["value"] for x in json.load(sys.stdin)}; print(o["prefix"] + "/" + o["datadir"])')/kiln/guest"

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD)

# Installs Debian packages, builds, and prepares guest kernels and images.
setup:
	scripts/setup.sh
	$(MAKE) all
	tests/e2e/prepare.sh
	scripts/guest-kernel.sh
	scripts/rootfs.sh
	@if [ -x scripts/gpu-deps.sh ]; then scripts/gpu-deps.sh; fi

# Every test: unit tests under ASan/UBSan, bounded fuzzing, the nested end-to-end suite.
check: all check-unit check-fuzz check-e2e check-gpu

check-unit:
	@[ -f $(ASAN_BUILD)/build.ninja ] || $(MESON) setup $(ASAN_BUILD) \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C $(ASAN_BUILD)
	$(MESON) test -C $(ASAN_BUILD) --print-errorlogs

check-fuzz:
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang $(MESON) setup $(FUZZ_BUILD) -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C $(FUZZ_BUILD)
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

check-e2e: all
	tests/e2e/run.sh

check-gpu: all
	@if [ -x tests/gpu/run.sh ]; then tests/gpu/run.sh; else echo "no GPU tests"; fi

bench: all
	bench/boot.sh
	bench/fs.sh
	@if [ -x bench/gpu/run.sh ]; then bench/gpu/run.sh; fi

demo: all
	tests/e2e/demo.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
