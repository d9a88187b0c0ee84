# kvmscope: KVM tracepoint series, CO-RE BPF programs and the kvmscope tracer.
#
#   make            build BPF objects, skeletons and the static binaries
#   make deps       install the Debian packages and fetch the lab kernels
#   make check      run every test tier (unit, sanitize, host BPF, kernel, lab)
#   make SANITIZE=1 build userspace with ASan+UBSan into build/sanitize/
#   make fuzz       run each libFuzzer target FUZZ_SECONDS (default 60) s
#   make demo       boot the lab, run a workload VM under the tracer
#                   (DEMO=qemu: live-migrate a real QEMU guest instead)
#   make install    install kvmscope and its man page (PREFIX=/usr/local DESTDIR=)
#   make uninstall  remove what install installed
#   make V=1 ...    show the commands
#
# All build output goes to build/, downloads and cached lab artefacts to
# .cache/ (override with KVMSCOPE_CACHE=DIR); both are git-ignored.

include lab.conf

# `make` alone builds everything (the first rule below is a pattern rule
# or a single program, which would otherwise be the default).
.DEFAULT_GOAL := all

ROOT      := $(CURDIR)
# A sanitizer build has a tree of its own, so it never replaces the static
# binaries the lab runs; BPF objects and skeletons are the same for both.
ifeq ($(SANITIZE),1)
OUT       := $(ROOT)/build/sanitize
else
OUT       := $(ROOT)/build
endif
BIN       := $(OUT)/bin
BPF_OUT   := $(ROOT)/build/obj/bpf
export KVMSCOPE_CACHE ?= $(ROOT)/.cache

CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
CFLAGS    ?= -O2 -g
WARN      := -Wall -Wextra -Werror
STD       := -std=gnu11
# Userspace is built from the same sources with sanitizers when SANITIZE=1;
# sanitizer builds cannot be static. Any report ends the program (no
# recovery), so a test that triggers one fails.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ifeq ($(SANITIZE),1)
CC        := clang
CFLAGS    += $(SAN_FLAGS)
STATIC    :=
else
STATIC    := -static
endif
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
              -I$(ROOT)/vmlinux-btf -I$(ROOT)/bpf -I$(BPF_OUT)

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(patsubst $(ROOT)/%,%,$(2))";
endif

# --- BPF: every bpf/*.bpf.c becomes an object and a skeleton -------------
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BPF_OUT)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BPF_OUT)/%.skel.h,$(BPF_SRCS))
BPF_HDRS  := $(wildcard bpf/*.h) vmlinux-btf/vmlinux.h

$(BPF_OUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BPF_OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(BPF_OUT)/%.skel.h: $(BPF_OUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

# --- userspace --------------------------------------------------------------
COMMON_SRCS  := $(wildcard tracer/common/*.c)
TRACER_SRCS  := $(wildcard tracer/*.c) $(COMMON_SRCS)
TRACER_HDRS  := $(wildcard tracer/*.h tracer/common/*.h bpf/*.h)
USER_CFLAGS  := $(STD) $(CFLAGS) $(WARN) -I$(ROOT)/tracer -I$(ROOT)/bpf -I$(BPF_OUT)
BPF_LIBS     := -lbpf -lelf -lz -lm

$(BIN)/kvmscope: $(TRACER_SRCS) $(TRACER_HDRS) $(BPF_SKELS) | $(BIN)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(STATIC) $(TRACER_SRCS) $(BPF_LIBS) -o $@

KVMLOAD_SRCS := $(wildcard tests/workload/*.c)
$(BIN)/kvmload: $(KVMLOAD_SRCS) $(wildcard tests/workload/*.h) | $(BIN)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(STD) $(CFLAGS) $(WARN) $(STATIC) -pthread $(KVMLOAD_SRCS) -o $@

# Unit tests: each tests/unit/test_*.c links with the tracer's common module
# and the tracer sources it names in its first line ("// uses: a.c b.c").
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
# (Every tracer source is a prerequisite: which ones a test uses is only
# known from its first line.)
$(OUT)/tests/%: tests/unit/%.c tests/unit/unit.h $(COMMON_SRCS) $(wildcard tracer/*.c) $(TRACER_HDRS) $(BPF_SKELS) | $(OUT)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(STATIC) -I$(ROOT)/tests/unit $< $(COMMON_SRCS) \
		$(addprefix tracer/,$(shell sed -n '1s|^// uses: ||p' $<)) $(BPF_LIBS) -o $@

# Host test: loads and attaches every BPF program on this machine's kernel.
$(OUT)/tests/bpf_attach: tests/host/bpf_attach.c $(COMMON_SRCS) tracer/hooks.c $(TRACER_HDRS) $(BPF_SKELS) | $(OUT)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(STATIC) $< $(COMMON_SRCS) tracer/hooks.c tracer/loader.c tracer/fault_slots.c $(BPF_LIBS) -o $@

# Lab helpers (each file's comment says what for): kvm-hold keeps one VM
# open in the lab; as-user, vm-close and map-entries serve the reliability
# tests.
LAB_HELPERS := $(BIN)/kvm-hold $(BIN)/as-user $(BIN)/vm-close
$(LAB_HELPERS): $(BIN)/%: tests/lab/%.c | $(BIN)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(STD) $(CFLAGS) $(WARN) $(STATIC) $< -o $@
$(BIN)/map-entries: tests/lab/map-entries.c | $(BIN)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(STD) $(CFLAGS) $(WARN) $(STATIC) $< $(BPF_LIBS) -o $@

# Fuzz targets: tests/fuzz/TARGET.c defines libFuzzer's entry point and
# names, like a unit test, the tracer sources it uses. Each is built twice:
# with libFuzzer (build/fuzz/TARGET, for `make fuzz`) and with replay.c
# (OUT/tests/replay-TARGET), which `make check` runs over the committed
# corpus tests/fuzz/TARGET/ as a regression test.
FUZZ_TARGETS := $(basename $(notdir $(filter-out tests/fuzz/replay.c,$(wildcard tests/fuzz/*.c))))
FUZZ_HDRS    := $(wildcard tests/fuzz/*.h)
FUZZ_OUT     := $(ROOT)/build/fuzz
FUZZ_SECONDS ?= 60
REPLAYS      := $(patsubst %,$(OUT)/tests/replay-%,$(FUZZ_TARGETS))
fuzz_uses     = $(addprefix tracer/,$(shell sed -n '1s|^// uses: *||p' $(1)))

$(OUT)/tests/replay-%: tests/fuzz/%.c tests/fuzz/replay.c $(FUZZ_HDRS) $(COMMON_SRCS) $(TRACER_SRCS) $(TRACER_HDRS) | $(OUT)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(STATIC) -I$(ROOT)/tests/fuzz $< tests/fuzz/replay.c \
		$(COMMON_SRCS) $(call fuzz_uses,$<) $(BPF_LIBS) -o $@

$(FUZZ_OUT)/%: tests/fuzz/%.c $(FUZZ_HDRS) $(COMMON_SRCS) $(TRACER_SRCS) $(TRACER_HDRS) | $(FUZZ_OUT)
	$(call msg,FUZZCC,$@)
	$(Q)clang $(STD) -O1 -g $(WARN) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-I$(ROOT)/tracer -I$(ROOT)/tests/fuzz $< $(COMMON_SRCS) $(call fuzz_uses,$<) \
		$(BPF_LIBS) -o $@

# The guest QEMU live-migrates in the lab (tests/lab/qemu/): an initramfs
# whose only file is a static /init that keeps dirtying memory. Outside
# build/bin: the lab reaches it through the host root share, not its initramfs.
LABQ := $(OUT)/lab
$(LABQ)/qemu-guest.cpio: tests/lab/qemu/dirtier.c | $(LABQ)
	$(call msg,CPIO,$@)
	$(Q)rm -rf $(LABQ)/guest-root && mkdir -p $(LABQ)/guest-root
	$(Q)$(CC) $(STD) $(CFLAGS) $(WARN) $(STATIC) $< -o $(LABQ)/guest-root/init
	$(Q)cd $(LABQ)/guest-root && echo init | cpio -o -H newc -R 0:0 --quiet >$@.tmp && mv $@.tmp $@

# Benchmarks (bench/, not run by make check): static helpers the bench
# scripts copy into the lab, and the empty BPF programs hookcost compares with.
BENCH     := $(OUT)/bench/bin
BENCH_OBJ := $(ROOT)/build/obj/bench
$(BENCH_OBJ)/empty.skel.h: bench/empty.bpf.c $(BPF_HDRS) | $(BENCH_OBJ)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $(BENCH_OBJ)/empty.bpf.o.tmp
	$(Q)$(BPFTOOL) gen object $(BENCH_OBJ)/empty.bpf.o $(BENCH_OBJ)/empty.bpf.o.tmp
	$(Q)rm -f $(BENCH_OBJ)/empty.bpf.o.tmp
	$(Q)$(BPFTOOL) gen skeleton $(BENCH_OBJ)/empty.bpf.o name empty_bpf > $@.tmp && mv $@.tmp $@
$(BENCH)/hookcost: bench/hookcost.c bench/until_signal.h $(BENCH_OBJ)/empty.skel.h | $(BENCH)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I$(BENCH_OBJ) $(STATIC) $< $(BPF_LIBS) -o $@
$(BENCH)/hookonly: bench/hookonly.c bench/until_signal.h $(BENCH_OBJ)/empty.skel.h | $(BENCH)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I$(BENCH_OBJ) $(STATIC) $< $(BPF_LIBS) -o $@
$(BENCH)/statscost: bench/statscost.c bench/median.h tracer/statsfd.c tracer/statsdbg.c $(COMMON_SRCS) $(TRACER_HDRS) | $(BENCH)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(STATIC) $< tracer/statsfd.c tracer/statsdbg.c $(COMMON_SRCS) $(BPF_LIBS) -o $@
# statsout times stats' own output code: the tracer sources it needs.
STATSOUT_SRCS := tracer/stats_output.c tracer/vmstats.c tracer/statsfd.c tracer/statsdbg.c tracer/vmfind.c
$(BENCH)/statsout: bench/statsout.c bench/median.h $(STATSOUT_SRCS) $(COMMON_SRCS) $(TRACER_HDRS) | $(BENCH)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(STATIC) $< $(STATSOUT_SRCS) $(COMMON_SRCS) $(BPF_LIBS) -o $@
# The no-fault-hook prototype (docs/notes-nohook.md).
$(BENCH_OBJ)/vcpustat.skel.h: bench/vcpustat.bpf.c bench/vcpustat.h $(BPF_HDRS) | $(BENCH_OBJ)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $(BENCH_OBJ)/vcpustat.bpf.o.tmp
	$(Q)$(BPFTOOL) gen object $(BENCH_OBJ)/vcpustat.bpf.o $(BENCH_OBJ)/vcpustat.bpf.o.tmp
	$(Q)rm -f $(BENCH_OBJ)/vcpustat.bpf.o.tmp
	$(Q)$(BPFTOOL) gen skeleton $(BENCH_OBJ)/vcpustat.bpf.o name vcpustat_bpf > $@.tmp && mv $@.tmp $@
$(BENCH)/vcpustat: bench/vcpustat.c bench/vcpustat.h $(BENCH_OBJ)/vcpustat.skel.h | $(BENCH)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I$(BENCH_OBJ) $(STATIC) $< $(BPF_LIBS) -o $@
$(BENCH)/progtime: bench/progtime.c bench/until_signal.h | $(BENCH)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(STATIC) $< $(BPF_LIBS) -o $@
$(BENCH)/startup: bench/startup.c | $(BENCH)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(STD) $(CFLAGS) $(WARN) $(STATIC) $< -o $@
BENCH_BINS := $(BENCH)/hookcost $(BENCH)/hookonly $(BENCH)/statscost $(BENCH)/statsout $(BENCH)/startup \
	      $(BENCH)/progtime $(BENCH)/vcpustat

PROGS := $(BIN)/kvmscope $(BIN)/kvmload $(LAB_HELPERS) $(BIN)/map-entries $(LABQ)/qemu-guest.cpio
TESTS := $(UNIT_BINS) $(REPLAYS) $(OUT)/tests/bpf_attach
BENCHES := $(BENCH_BINS)

.PHONY: all bpf progs tests deps check demo clean install uninstall vmlinux-h kernel-modules kernel-check kernel-test \
	sanitize-tests fuzz fuzz-build
all: $(BPF_OBJS) $(BPF_SKELS) $(PROGS) $(TESTS) $(BENCHES)
bpf: $(BPF_OBJS) $(BPF_SKELS)
progs: $(PROGS)
tests: $(TESTS)
# What tests/run's sanitize tier runs (with SANITIZE=1: under build/sanitize).
sanitize-tests: $(BIN)/kvmscope $(UNIT_BINS) $(REPLAYS)

$(BPF_OUT) $(BIN) $(OUT)/tests $(FUZZ_OUT) $(LABQ) $(BENCH_OBJ) $(BENCH):
	$(Q)mkdir -p $@

deps:
	$(Q)scripts/deps

# Every tier, the sanitize tier included (it builds build/sanitize/ itself),
# so `make check` and `make check SANITIZE=1` run the same tests; the static
# build the lab needs is always the plain one.
check: deps
	$(Q)$(MAKE) --no-print-directory SANITIZE= all
	$(Q)tests/run

# libFuzzer: each target FUZZ_SECONDS seconds, starting from its committed
# corpus; new inputs go to build/fuzz/corpus/TARGET, crashes to
# build/fuzz/crash-TARGET-*. A crash fails the target (and make).
fuzz-build: $(addprefix $(FUZZ_OUT)/,$(FUZZ_TARGETS))
fuzz: fuzz-build
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_OUT)/corpus/$$t || exit 1; \
		echo "  FUZZ     $$t ($(FUZZ_SECONDS) s)"; \
		$(FUZZ_OUT)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_OUT)/crash-$$t- $(FUZZ_OUT)/corpus/$$t tests/fuzz/$$t \
			>$(FUZZ_OUT)/$$t.log 2>&1 || { tail -n 30 $(FUZZ_OUT)/$$t.log; exit 1; }; \
		grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units' $(FUZZ_OUT)/$$t.log | sed 's/^/    /'; \
	done

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)DEMO=$(DEMO) scripts/demo

# The KVM tracepoint series (kernel/): patched kvm.ko/kvm-amd.ko for the
# lab's patched-6.12 kernel (cached by a hash of patches and config), the
# series' checkpatch run, and its own lab test.
kernel-modules:
	$(Q)kernel/build-kvm >/dev/null
kernel-check:
	$(Q)kernel/check-series
kernel-test: kernel-modules progs
	$(Q)kernel/test-lab

# Regenerate the checked-in vmlinux.h from the patched lab kernel's BTF
# (vmlinux + kvm module), so BPF sees the series' tracepoint types.
vmlinux-h: kernel-modules
	$(Q)vmlinux-btf/regen patched-6.12

# Install: the static binary and the man page. DESTDIR stages a package.
PREFIX    ?= /usr/local
BINDIR    := $(DESTDIR)$(PREFIX)/bin
MAN1DIR   := $(DESTDIR)$(PREFIX)/share/man/man1
install: $(BIN)/kvmscope
	$(call msg,INSTALL,$(BINDIR)/kvmscope)
	$(Q)install -d $(BINDIR) $(MAN1DIR)
	$(Q)install -m 0755 $(BIN)/kvmscope $(BINDIR)/kvmscope
	$(Q)install -m 0644 docs/kvmscope.1 $(MAN1DIR)/kvmscope.1
uninstall:
	$(call msg,RM,$(BINDIR)/kvmscope)
	$(Q)rm -f $(BINDIR)/kvmscope $(MAN1DIR)/kvmscope.1

clean:
	$(Q)rm -rf $(OUT)
