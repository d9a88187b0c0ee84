# kvmscope: KVM tracepoint series, CO-RE BPF programs and the kvmscope tracer.
#
#   make            build BPF objects, skeletons and the static binaries
#   make deps       install the Debian packages and fetch the lab kernels
#   make check      run every test tier (unit, host BPF, lab)
#   make demo       boot the lab, run a workload VM under the tracer
#   make V=1 ...    show the commands
#
# All build output goes to build/, downloads and cached lab artefacts to
# .cache/ (override with KVMSCOPE_CACHE=DIR); both are git-ignored.

include lab.conf

ROOT      := $(CURDIR)
OUT       := $(ROOT)/build
BIN       := $(OUT)/bin
OBJ       := $(OUT)/obj
export KVMSCOPE_CACHE ?= $(ROOT)/.cache

CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
CFLAGS    ?= -O2 -g
WARN      := -Wall -Wextra -Werror
STD       := -std=gnu11
# Userspace is built from the same sources with sanitizers when SANITIZE=1;
# sanitizer builds cannot be static.
ifeq ($(SANITIZE),1)
CC        := clang
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer
STATIC    :=
else
STATIC    := -static
endif
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
              -I$(ROOT)/vmlinux-btf -I$(ROOT)/bpf -I$(OBJ)/bpf

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(patsubst $(ROOT)/%,%,$(2))";
endif

# --- BPF: every bpf/*.bpf.c becomes an object and a skeleton -------------
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OBJ)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OBJ)/bpf/%.skel.h,$(BPF_SRCS))
BPF_HDRS  := $(wildcard bpf/*.h) vmlinux-btf/vmlinux.h

$(OBJ)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(OBJ)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OBJ)/bpf/%.skel.h: $(OBJ)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

# --- userspace --------------------------------------------------------------
COMMON_SRCS  := $(wildcard tracer/common/*.c)
TRACER_SRCS  := $(wildcard tracer/*.c) $(COMMON_SRCS)
TRACER_HDRS  := $(wildcard tracer/*.h tracer/common/*.h bpf/*.h)
USER_CFLAGS  := $(STD) $(CFLAGS) $(WARN) -I$(ROOT)/tracer -I$(ROOT)/bpf -I$(OBJ)/bpf
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
$(OUT)/tests/%: tests/unit/%.c tests/unit/unit.h $(COMMON_SRCS) $(TRACER_HDRS) $(BPF_SKELS) | $(OUT)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(STATIC) -I$(ROOT)/tests/unit $< $(COMMON_SRCS) \
		$(addprefix tracer/,$(shell sed -n '1s|^// uses: ||p' $<)) $(BPF_LIBS) -o $@

# Host test: loads and attaches every BPF program on this machine's kernel.
$(OUT)/tests/bpf_attach: tests/host/bpf_attach.c $(COMMON_SRCS) tracer/hooks.c $(TRACER_HDRS) $(BPF_SKELS) | $(OUT)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(STATIC) $< $(COMMON_SRCS) tracer/hooks.c tracer/loader.c $(BPF_LIBS) -o $@

# Lab helper: keeps one VM open in the lab (tests/lab/kvm-hold.c says why).
$(BIN)/kvm-hold: tests/lab/kvm-hold.c | $(BIN)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(STD) $(CFLAGS) $(WARN) $(STATIC) $< -o $@

PROGS := $(BIN)/kvmscope $(BIN)/kvmload $(BIN)/kvm-hold
TESTS := $(UNIT_BINS) $(OUT)/tests/bpf_attach

.PHONY: all bpf progs tests deps check demo clean vmlinux-h kernel-modules kernel-check kernel-test
all: $(BPF_OBJS) $(BPF_SKELS) $(PROGS) $(TESTS)
bpf: $(BPF_OBJS) $(BPF_SKELS)
progs: $(PROGS)
tests: $(TESTS)

$(OBJ)/bpf $(BIN) $(OUT)/tests:
	$(Q)mkdir -p $@

deps:
	$(Q)scripts/deps

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo

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

clean:
	$(Q)rm -rf $(OUT)
