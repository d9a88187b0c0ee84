# kvmscope: KVM tracepoint series, CO-RE BPF programs and the kvmscope tracer.
#
#   make            build BPF objects, skeletons and the static binaries
#   make deps       install the Debian packages and fetch the lab kernels
#   make check      run every test tier (unit, sanitize, host BPF, kernel, lab)
#   make SANITIZE=1 build userspace with ASan+UBSan into build/sanitize/
#   make fuzz       run each libFuzzer target FUZZ_SECONDS (default 60) s
#   make demo       boot the lab, run a workload VM under the tracer
#                   (DEMO=qemu: live-migrate a real QEMU guest instead)
#   make install    install kvmscope, its man page, bash completion, systemd unit and
#                   Prometheus/Grafana files (PREFIX=/usr/local DESTDIR=)
#   make uninstall  remove what install installed
#   make V=1 ...    show the commands
#
# All build output goes to build/, downloads and cached lab artefacts to
# .cache/ (override with KVMSCOPE_CACHE=DIR); both are git-ignored.

include lab.conf

# Objects are kept between builds (make would delete them as intermediates).
.SECONDARY:

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
# One object per source, compiled by a pattern rule with generated dependency
# files (-MMD -MP), so touching one .c rebuilds one object and a header change
# rebuilds exactly its includers. The tracer's code (everything under tracer/
# but main.c) is one static library that the binary, the unit tests, the fuzz
# replays, the host BPF test and the benchmarks all link: the linker takes
# only the objects each of them needs.
TRACER_SRCS  := $(shell find tracer -name '*.c' ! -name main.c | LC_ALL=C sort)
USER_CFLAGS  := $(STD) $(CFLAGS) $(WARN) -I$(ROOT)/tracer -I$(ROOT)/bpf -I$(BPF_OUT)
BPF_LIBS     := -lbpf -lelf -lz -lm
OBJ          := $(OUT)/obj
TRACER_OBJS  := $(patsubst %.c,$(OBJ)/%.o,$(TRACER_SRCS))
LIBKVMSCOPE  := $(OBJ)/libkvmscope.a

# Every userspace object may include a skeleton: they exist before any
# compiles (order-only; the .d files then track them exactly).
$(OBJ)/%.o: %.c | $(BPF_SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(USER_CFLAGS) -MMD -MP -c $< -o $@

$(LIBKVMSCOPE): $(TRACER_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BIN)/kvmscope: $(OBJ)/tracer/main.o $(LIBKVMSCOPE) | $(BIN)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(STATIC) $^ $(BPF_LIBS) -o $@

# The version and source revision kvmscope reports (--version,
# kvmscope_build_info): a header only main.c includes, which
# scripts/version-h rewrites only when its text changes. It runs at every
# make (the revision is git's, which make cannot see), and a new revision
# recompiles main.c and relinks kvmscope, nothing else.
KVMSCOPE_VERSION := 0.1
VERSION_H := $(OBJ)/gen/version.h
$(VERSION_H): FORCE
	$(Q)mkdir -p $(@D)
	$(Q)scripts/version-h $(KVMSCOPE_VERSION) $@
$(OBJ)/tracer/main.o: $(VERSION_H)
$(OBJ)/tracer/main.o: USER_CFLAGS += -I$(OBJ)/gen

# Bash completion, written by kvmscope itself from its option tables.
COMPLETION := $(OUT)/share/kvmscope.bash
$(COMPLETION): $(BIN)/kvmscope
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$< completion bash >$@.tmp && mv $@.tmp $@

KVMLOAD_SRCS := $(wildcard tests/workload/*.c)
$(OBJ)/tests/workload/%.o: USER_CFLAGS += -pthread
$(BIN)/kvmload: $(patsubst %.c,$(OBJ)/%.o,$(KVMLOAD_SRCS)) | $(BIN)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(STATIC) -pthread $^ -o $@

# Unit tests: each tests/unit/test_*.c links with the tracer's library.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
$(OUT)/tests/%: $(OBJ)/tests/unit/%.o $(LIBKVMSCOPE) | $(OUT)/tests
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(STATIC) $^ $(BPF_LIBS) -o $@

# Host tests: bpf_attach loads and attaches every BPF program on this
# machine's kernel; intel_btf checks the hooks against an Intel host's BTF.
$(OUT)/tests/bpf_attach $(OUT)/tests/intel_btf: $(OUT)/tests/%: $(OBJ)/tests/host/%.o $(LIBKVMSCOPE) | $(OUT)/tests
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(STATIC) $^ $(BPF_LIBS) -o $@

# Lab helpers (each file's comment says what for): kvm-hold keeps one VM
# open in the lab; as-user, vm-close, fd-swap and map-entries serve the reliability
# tests.
LAB_HELPERS := $(BIN)/kvm-hold $(BIN)/as-user $(BIN)/vm-close $(BIN)/fd-swap
$(LAB_HELPERS): $(BIN)/%: tests/lab/%.c | $(BIN)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(STD) $(CFLAGS) $(WARN) $(STATIC) $< -o $@
$(BIN)/map-entries: tests/lab/map-entries.c | $(BIN)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(STD) $(CFLAGS) $(WARN) $(STATIC) $< $(BPF_LIBS) -o $@

# Fuzz targets: tests/fuzz/TARGET.c defines libFuzzer's entry point. Each
# is built twice: with libFuzzer (build/fuzz/TARGET, for `make fuzz`, from
# objects and a library of the tracer's code instrumented for it under
# build/fuzz/obj/) and with replay.c (OUT/tests/replay-TARGET), which `make
# check` runs over the committed corpus tests/fuzz/TARGET/ as a regression
# test.
FUZZ_TARGETS := $(basename $(notdir $(filter-out tests/fuzz/replay.c,$(wildcard tests/fuzz/*.c))))
FUZZ_OUT     := $(ROOT)/build/fuzz
FUZZ_OBJ     := $(FUZZ_OUT)/obj
FUZZ_SECONDS ?= 60
REPLAYS      := $(patsubst %,$(OUT)/tests/replay-%,$(FUZZ_TARGETS))
FUZZ_CFLAGS  := $(STD) -O1 -g $(WARN) -fsanitize=address,undefined -fno-sanitize-recover=all \
		-I$(ROOT)/tracer -I$(ROOT)/bpf -I$(BPF_OUT)

$(OUT)/tests/replay-%: $(OBJ)/tests/fuzz/%.o $(OBJ)/tests/fuzz/replay.o $(LIBKVMSCOPE) | $(OUT)/tests
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(STATIC) $^ $(BPF_LIBS) -o $@

$(FUZZ_OBJ)/%.o: %.c | $(BPF_SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_OBJ)/libkvmscope.a: $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(TRACER_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(FUZZ_OUT)/%: $(FUZZ_OBJ)/tests/fuzz/%.o $(FUZZ_OBJ)/libkvmscope.a
	$(call msg,FUZZLD,$@)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ $(BPF_LIBS) -o $@

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
# Bench objects see the bench skeletons.
$(OBJ)/bench/%.o: USER_CFLAGS += -I$(BENCH_OBJ)
$(patsubst %.c,$(OBJ)/%.o,$(wildcard bench/*.c)): | $(BENCH_OBJ)/empty.skel.h $(BENCH_OBJ)/vcpustat.skel.h
$(BENCH)/hookcost $(BENCH)/hookonly $(BENCH)/vcpustat $(BENCH)/progtime: $(BENCH)/%: $(OBJ)/bench/%.o | $(BENCH)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(STATIC) $^ $(BPF_LIBS) -o $@
# statscost and statsout time the tracer's own stats reading and output
# code, vmfindcost its look through /proc.
$(BENCH)/statscost $(BENCH)/statsout $(BENCH)/vmfindcost: $(BENCH)/%: $(OBJ)/bench/%.o $(LIBKVMSCOPE) | $(BENCH)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(STATIC) $^ $(BPF_LIBS) -o $@
$(BENCH)/startup: $(OBJ)/bench/startup.o | $(BENCH)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(STATIC) $^ -o $@
# The no-fault-hook prototype (docs/design.md).
$(BENCH_OBJ)/vcpustat.skel.h: bench/vcpustat.bpf.c bench/vcpustat.h $(BPF_HDRS) | $(BENCH_OBJ)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $(BENCH_OBJ)/vcpustat.bpf.o.tmp
	$(Q)$(BPFTOOL) gen object $(BENCH_OBJ)/vcpustat.bpf.o $(BENCH_OBJ)/vcpustat.bpf.o.tmp
	$(Q)rm -f $(BENCH_OBJ)/vcpustat.bpf.o.tmp
	$(Q)$(BPFTOOL) gen skeleton $(BENCH_OBJ)/vcpustat.bpf.o name vcpustat_bpf > $@.tmp && mv $@.tmp $@
BENCH_BINS := $(BENCH)/hookcost $(BENCH)/hookonly $(BENCH)/statscost $(BENCH)/statsout $(BENCH)/vmfindcost $(BENCH)/startup \
	      $(BENCH)/progtime $(BENCH)/vcpustat

PROGS := $(BIN)/kvmscope $(COMPLETION) $(BIN)/kvmload $(LAB_HELPERS) $(BIN)/map-entries $(LABQ)/qemu-guest.cpio
TESTS := $(UNIT_BINS) $(REPLAYS) $(OUT)/tests/bpf_attach $(OUT)/tests/intel_btf
BENCHES := $(BENCH_BINS)

.PHONY: all bpf progs tests deps check demo clean install uninstall vmlinux-h kernel-modules kernel-check kernel-test \
	sanitize-tests fuzz fuzz-build FORCE
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

# Install: the static binary, the man page, the bash completion (where
# bash-completion looks for it on demand), the systemd unit for `kvmscope
# export` (where systemd looks for local units; its ExecStart names the
# installed binary) and the deployment files for Prometheus and Grafana
# (deploy/: docs/usage.md). DESTDIR stages a package.
PREFIX    ?= /usr/local
BINDIR    := $(DESTDIR)$(PREFIX)/bin
MAN1DIR   := $(DESTDIR)$(PREFIX)/share/man/man1
BASHCOMPDIR := $(DESTDIR)$(PREFIX)/share/bash-completion/completions
UNITDIR   := $(DESTDIR)$(PREFIX)/lib/systemd/system
SHAREDIR  := $(DESTDIR)$(PREFIX)/share/kvmscope
DEPLOY_FILES := prometheus/kvmscope.rules.yml prometheus/kvmscope.rules.test.yml \
		prometheus/scrape.yml grafana/kvmscope.json
install: $(BIN)/kvmscope $(COMPLETION)
	$(call msg,INSTALL,$(BINDIR)/kvmscope)
	$(Q)install -d $(BINDIR) $(MAN1DIR) $(BASHCOMPDIR) $(UNITDIR) $(SHAREDIR)/prometheus $(SHAREDIR)/grafana
	$(Q)install -m 0755 $(BIN)/kvmscope $(BINDIR)/kvmscope
	$(Q)install -m 0644 docs/kvmscope.1 $(MAN1DIR)/kvmscope.1
	$(Q)install -m 0644 $(COMPLETION) $(BASHCOMPDIR)/kvmscope
	$(Q)sed 's|@BINDIR@|$(PREFIX)/bin|g' deploy/kvmscope-export.service >$(UNITDIR)/kvmscope-export.service.tmp
	$(Q)chmod 0644 $(UNITDIR)/kvmscope-export.service.tmp
	$(Q)mv $(UNITDIR)/kvmscope-export.service.tmp $(UNITDIR)/kvmscope-export.service
	$(Q)for f in $(DEPLOY_FILES); do install -m 0644 deploy/$$f $(SHAREDIR)/$$f || exit 1; done
uninstall:
	$(call msg,RM,$(BINDIR)/kvmscope)
	$(Q)rm -f $(BINDIR)/kvmscope $(MAN1DIR)/kvmscope.1 $(BASHCOMPDIR)/kvmscope \
		$(UNITDIR)/kvmscope-export.service $(addprefix $(SHAREDIR)/,$(DEPLOY_FILES))
	$(Q)rmdir $(SHAREDIR)/prometheus $(SHAREDIR)/grafana $(SHAREDIR) 2>/dev/null || true

clean:
	$(Q)rm -rf $(OUT)

# The compilers' record of which headers each object includes.
-include $(shell find $(OBJ) $(FUZZ_OBJ) -name '*.d' 2>/dev/null)
