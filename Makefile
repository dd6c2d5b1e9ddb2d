# salve: the one build. Every product lands under $(BUILD); nothing beside the sources.
BUILD    ?= build
CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PKG      ?= pkg-config
VERSION  := 0.1.0

# The running kernel's BTF feeds vmlinux.h; point VMLINUX_BTF elsewhere to build for another kernel.
VMLINUX_BTF ?= $(firstword $(wildcard /sys/kernel/btf/vmlinux /boot/vmlinux-$(shell uname -r)))
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# What the build and tests need from Debian, by package name (make deps installs the missing ones).
DEPS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libjson-c-dev libcmocka-dev \
        libsystemd-dev pkg-config make gcc g++ binutils bpftrace util-linux procps jq \
        python3-jsonschema

LIBS     := libbpf libelf json-c zlib libsystemd
WARN     := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2
CFLAGS   ?= -O2 -g
# User CFLAGS (make CFLAGS=-fsanitize=address) add to the project's, never replace them.
ALL_CFLAGS = $(CFLAGS) -std=gnu11 $(WARN) -Iinclude -I$(BUILD) -I$(BUILD)/bpf -Idaemon -MMD -MP \
            -DSALVE_VERSION='"$(VERSION)"' $(shell $(PKG) --cflags $(LIBS) 2>/dev/null)
# libstdc++ for its demangler (C++ exception types).
LDLIBS   := $(shell $(PKG) --libs $(LIBS) 2>/dev/null) -lstdc++
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -I$(BUILD) \
              -DSALVE_VERSION='"$(VERSION)"'

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))
LIB_SRCS   := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
LIB_OBJS   := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
CLI_SRCS   := $(wildcard daemon/cli/*.c)
CLI_OBJS   := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRCS))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(BENCH_SRCS))

# Targets: small programs with deliberate faults, and the ELF shapes the symbolizer must read.
TARGET_SRCS := $(filter-out tests/targets/lib%.c,$(wildcard tests/targets/*.c))
TARGETS     := $(patsubst tests/targets/%.c,$(BUILD)/tests/targets/%,$(TARGET_SRCS)) \
               $(patsubst tests/targets/%.cpp,$(BUILD)/tests/targets/%,$(wildcard tests/targets/*.cpp)) \
               $(BUILD)/tests/targets/libfault.so $(BUILD)/tests/targets/crash-nopie \
               $(BUILD)/tests/targets/crash-stripped $(BUILD)/tests/targets/crash-nofp

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps run check unit integration bench clean install

all: deps-check $(BUILD)/salved $(BUILD)/salvectl $(TARGETS) $(UNIT_BINS) $(BENCH_BINS)

# ---- dependencies --------------------------------------------------------------
deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "  DEPS     installing:" $$missing; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || \
	    { echo "make deps: could not install:" $$missing >&2; exit 1; }; \
	fi

# A build without the tools fails early, saying which to install and how.
deps-check:
	@for t in $(CLANG) $(BPFTOOL) $(PKG); do command -v $$t >/dev/null || \
	    { echo "missing $$t: run 'sudo make deps'" >&2; exit 1; }; done
	@$(PKG) --exists $(LIBS) || { echo "missing libraries ($(LIBS)): run 'sudo make deps'" >&2; exit 1; }
.PHONY: deps-check

# ---- BPF ------------------------------------------------------------------------
$(BUILD)/vmlinux.h:
	@test -n "$(VMLINUX_BTF)" || { echo "no kernel BTF found: set VMLINUX_BTF=/path/to/vmlinux" >&2; exit 1; }
	@mkdir -p $(@D)
	$(call msg,GEN,$@)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(call msg,BPF,$<)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MT $@ -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)$(BPFTOOL) gen skeleton $< name salve_$* > $@

# ---- user space -----------------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(ALL_CFLAGS) -c $< -o $@

# probes.c includes every skeleton.
$(BUILD)/obj/daemon/probes.o: $(SKELS)

$(BUILD)/libsalved.a: $(LIB_OBJS)
	$(call msg,AR,$@)$(AR) rcs $@ $^

$(BUILD)/salved: $(BUILD)/obj/daemon/main.o $(BUILD)/libsalved.a
	$(call msg,LINK,$@)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/salvectl: $(CLI_OBJS) $(BUILD)/libsalved.a
	$(call msg,LINK,$@)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# ---- tests ----------------------------------------------------------------------
$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libsalved.a
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(ALL_CFLAGS) $< $(BUILD)/libsalved.a $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/bench/%: tests/bench/%.c $(BUILD)/libsalved.a
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(ALL_CFLAGS) $< $(BUILD)/libsalved.a $(LDFLAGS) $(LDLIBS) -o $@

# Targets keep frame pointers so stacks unwind; crash-nopie, crash-stripped and crash-nofp
# are crash built without PIE, stripped to .dynsym, and without frame pointers;
# libfault.so is the shared-library case.
TARGET_CFLAGS := -O0 -g -fno-omit-frame-pointer -pthread -Wall -Itests/targets
$(BUILD)/tests/targets/libfault.so: tests/targets/libfault.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(TARGET_CFLAGS) -shared -fPIC $< -o $@
TARGET_LINK := -L$(BUILD)/tests/targets -Wl,-rpath,'$$ORIGIN' -Wl,--no-as-needed -lfault
$(BUILD)/tests/targets/crash-nopie: tests/targets/crash.c $(BUILD)/tests/targets/libfault.so
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(TARGET_CFLAGS) -no-pie -fno-pie $< $(TARGET_LINK) -o $@
$(BUILD)/tests/targets/crash-nofp: tests/targets/crash.c $(BUILD)/tests/targets/libfault.so
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(TARGET_CFLAGS) -O2 -fomit-frame-pointer $< $(TARGET_LINK) -o $@
$(BUILD)/tests/targets/crash-stripped: $(BUILD)/tests/targets/crash
	$(call msg,STRIP,$@)strip --strip-all -o $@ $< && test -n "$$(nm -D $@ 2>/dev/null)"
$(BUILD)/tests/targets/%: tests/targets/%.cpp
	@mkdir -p $(@D)
	$(call msg,CXX,$<)$(CXX) -O0 -g -fno-omit-frame-pointer -Wall $< -o $@
$(BUILD)/tests/targets/crash: TARGET_LDFLAGS := -rdynamic
$(BUILD)/tests/targets/%: tests/targets/%.c $(BUILD)/tests/targets/libfault.so
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(TARGET_CFLAGS) -pie -fPIE $(TARGET_LDFLAGS) $< $(TARGET_LINK) -o $@

# The README's two commands. run starts salved on the shipped default policy.
run: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/salved --policy policies/default.json

check: deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory all
	@for b in $(BENCH_BINS) $(wildcard tests/bench/*.sh); do "$$b" $(BUILD) || exit 1; done

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
