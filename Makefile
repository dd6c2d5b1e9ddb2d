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
        libclang-rt-dev python3-jsonschema libdw-dev liblzma-dev libc6-dbg gdb xz-utils \
        libcapstone-dev debootstrap prometheus python3-yaml \
        debhelper dpkg-dev fakeroot lintian man-db groff-base bash-completion

LIBS     := libbpf libelf libdw json-c zlib libsystemd capstone
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
# One folder per stage (the README's layout). The policy language is a library of its own,
# linked by salved, salvectl and the fuzzer; the other stages make libsalved.a.
STAGES     := base kernel events symbols engine actions ctl
POLICY_SRCS := $(wildcard daemon/policy/*.c)
POLICY_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(POLICY_SRCS))
LIB_SRCS   := $(foreach s,$(STAGES),$(wildcard daemon/$(s)/*.c))
LIB_OBJS   := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
LIBS_SALVE := $(BUILD)/libsalved.a $(BUILD)/libsalve-policy.a
CLI_SRCS   := $(wildcard daemon/cli/*.c)
CLI_OBJS   := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRCS))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(BENCH_SRCS))

# Targets: small programs with deliberate faults, and the ELF shapes the symbolizer must read.
TARGET_SRCS := $(filter-out tests/targets/lib%.c tests/targets/hot.c tests/targets/salve-demo.c,\
                 $(wildcard tests/targets/*.c))
TARGETS     := $(patsubst tests/targets/%.c,$(BUILD)/tests/targets/%,$(TARGET_SRCS)) \
               $(patsubst tests/targets/%.cpp,$(BUILD)/tests/targets/%,$(wildcard tests/targets/*.cpp)) \
               $(BUILD)/tests/targets/libfault.so $(BUILD)/tests/targets/libfix.so \
               $(BUILD)/tests/targets/crash-nopie \
               $(BUILD)/tests/targets/crash-stripped $(BUILD)/tests/targets/crash-nofp \
               $(BUILD)/tests/targets/hot $(BUILD)/tests/targets/hot-nop5
# What the benchmarks run besides salved: empty BPF programs, the kernel's floor.
BENCH_TOOLS := $(BUILD)/tests/bench/floor $(BUILD)/tests/bench/ptrace_floor \
               $(BUILD)/tests/bench/memcopy \
               $(BUILD)/tests/bench/floor.bpf.o \
               $(BUILD)/tests/bench/floor_session.bpf.o
# Test tools: programs the integration tests run to check what salved wrote.
TOOLS       := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps run check unit integration bench fuzz clean install

all: deps-check $(BUILD)/salved $(BUILD)/salvectl $(BUILD)/salve-demo $(TARGETS) $(UNIT_BINS) $(BENCH_BINS) $(BENCH_TOOLS) \
     $(TOOLS)

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

# probes.c, entry.c, override.c and netbreak.c include the skeletons.
$(BUILD)/obj/daemon/kernel/probes.o $(BUILD)/obj/daemon/kernel/entry.o \
	$(BUILD)/obj/daemon/kernel/override.o $(BUILD)/obj/daemon/kernel/netbreak.o: $(SKELS)

$(BUILD)/libsalved.a: $(LIB_OBJS)
	$(call msg,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libsalve-policy.a: $(POLICY_OBJS)
	$(call msg,AR,$@)rm -f $@ && $(AR) rcs $@ $^

# salved's own files: the wiring (main.c), its options and its answers to salvectl.
SALVED_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard daemon/*.c))
$(BUILD)/salved: $(SALVED_OBJS) $(LIBS_SALVE)
	$(call msg,LINK,$@)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/salvectl: $(CLI_OBJS) $(LIBS_SALVE)
	$(call msg,LINK,$@)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# ---- tests ----------------------------------------------------------------------
$(BUILD)/tests/unit/%: tests/unit/%.c $(LIBS_SALVE)
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(ALL_CFLAGS) $< $(LIBS_SALVE) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/bench/%: tests/bench/%.c $(LIBS_SALVE)
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(ALL_CFLAGS) $< $(LIBS_SALVE) $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/tests/tools/%: tests/tools/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(ALL_CFLAGS) $< $(LDFLAGS) $(shell $(PKG) --libs json-c 2>/dev/null) -o $@

$(BUILD)/tests/bench/%.bpf.o: tests/bench/lib/%.bpf.c $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(call msg,BPF,$<)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/tests/bench/floor: tests/bench/lib/floor.c $(LIBS_SALVE)
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(ALL_CFLAGS) $< $(LIBS_SALVE) $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/tests/bench/ptrace_floor $(BUILD)/tests/bench/memcopy: $(BUILD)/tests/bench/%: tests/bench/lib/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(ALL_CFLAGS) $< -o $@

# Targets keep frame pointers so stacks unwind; crash-nopie, crash-stripped and crash-nofp
# are crash built without PIE, stripped to .dynsym, and without frame pointers;
# libfault.so is the shared-library case; libfix.so a fix library salve loads into a
# running process.
TARGET_CFLAGS := -O0 -g -fno-omit-frame-pointer -pthread -Wall -Itests/targets
$(BUILD)/tests/targets/libfault.so $(BUILD)/tests/targets/libfix.so: \
		$(BUILD)/tests/targets/lib%.so: tests/targets/lib%.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(TARGET_CFLAGS) -shared -fPIC $< -o $@
TARGET_LINK := -L$(BUILD)/tests/targets -Wl,-rpath,'$$ORIGIN' -Wl,--no-as-needed -lfault
$(BUILD)/tests/targets/crash-nopie: tests/targets/crash.c $(BUILD)/tests/targets/libfault.so
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(TARGET_CFLAGS) -no-pie -fno-pie $< $(TARGET_LINK) -o $@
$(BUILD)/tests/targets/crash-nofp: tests/targets/crash.c $(BUILD)/tests/targets/libfault.so
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(TARGET_CFLAGS) -O2 -fomit-frame-pointer $< $(TARGET_LINK) -o $@
# hot is the probe benchmark's function, built by clang with an ordinary entry and with
# the 5-byte NOP entry (clang's is one instruction; gcc's is five, which the kernel
# does not optimize).
HOT_CFLAGS := -O2 -g -fno-omit-frame-pointer -Wall
$(BUILD)/tests/targets/hot: tests/targets/hot.c
	@mkdir -p $(@D)
	$(call msg,CLANG,$<)$(CLANG) $(HOT_CFLAGS) $< -o $@
$(BUILD)/tests/targets/hot-nop5: tests/targets/hot.c
	@mkdir -p $(@D)
	$(call msg,CLANG,$<)$(CLANG) $(HOT_CFLAGS) -fpatchable-function-entry=5 $< -o $@
$(BUILD)/tests/targets/crash-stripped: $(BUILD)/tests/targets/crash
	$(call msg,STRIP,$@)strip --strip-all -o $@ $< && test -n "$$(nm -D $@ 2>/dev/null)"
$(BUILD)/tests/targets/%: tests/targets/%.cpp
	@mkdir -p $(@D)
	$(call msg,CXX,$<)$(CXX) -O0 -g -fno-omit-frame-pointer -Wall $< -o $@
# The unwinding oracles: built as distributions build (-O2, no frame pointers), so only
# CFI unwinds them; gdb's backtrace of the same crash is the expected stack.
NOFP_CFLAGS := -O2 -g -fomit-frame-pointer -pthread -Wall
$(BUILD)/tests/targets/qsort_crash $(BUILD)/tests/targets/thread_crash: TARGET_CFLAGS := $(NOFP_CFLAGS)
$(BUILD)/tests/targets/sort_crash: tests/targets/sort_crash.cpp
	@mkdir -p $(@D)
	$(call msg,CXX,$<)$(CXX) $(NOFP_CFLAGS) $< -o $@
$(BUILD)/tests/targets/crash: TARGET_LDFLAGS := -rdynamic
$(BUILD)/tests/targets/%: tests/targets/%.c $(BUILD)/tests/targets/libfault.so
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(TARGET_CFLAGS) -pie -fPIE $(TARGET_LDFLAGS) $< $(TARGET_LINK) -o $@

# ---- make run: a first five minutes ---------------------------------------------
# The demo make run points at: crashes, aborts or exits non-zero on request.
$(BUILD)/salve-demo: tests/targets/salve-demo.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(TARGET_CFLAGS) $< -o $@

# The README's first command: salved on the shipped default policy (policies/default/),
# with its state, control socket and pins in scratch places, so a salved installed on the
# host is not disturbed and nothing is left in /var/lib/salve. ARGS goes to salved after
# these, and salved takes the last of an option given twice: ARGS='--state-dir DIR' wins.
# Before salved starts, it says what the policy watches and how to see it work.
RUN_DIR    := $(abspath $(BUILD)/run)
RUN_POLICY := policies/default
RUN_SOCKET := $(RUN_DIR)/salved.sock
RUN_PINS   := /sys/fs/bpf/salve-run
ARGS       ?=
# The value ARGS gives an option (--opt VALUE or --opt=VALUE), else the default.
run_opt = $$(set -- $(ARGS); v=$(2); while [ $$\# -gt 0 ]; do case $$1 in \
	$(1)=*) v=$${1\#*=} ;; $(1)) [ $$\# -gt 1 ] && { v=$$2; shift; } ;; esac; shift; done; echo "$$v")
run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(RUN_DIR)
	@policy=$(call run_opt,--policy,$(RUN_POLICY)); sock=$(call run_opt,--socket,$(RUN_SOCKET)); \
	state=$(call run_opt,--state-dir,$(RUN_DIR)/state); demo=$(abspath $(BUILD)/salve-demo); \
	echo; echo "salved watches, with $$policy:"; \
	if [ "$$policy" = $(RUN_POLICY) ]; then \
	    echo "  - crashes (fatal signals, with the stack), aborts and OOM kills, host-wide"; \
	    echo "  - non-zero exits of services (processes in the cgroups under /system.slice)"; \
	else echo "  - what those policies say (salvectl validate $$policy lists them)"; fi; \
	log=$(call run_opt,--log,); echo "Events are JSON lines $${log:+in }$${log:-here}, and Ctrl-C stops salved."; \
	echo "Its state is in $$state, its control socket is $$sock."; \
	echo; echo "To see it work, in another terminal:"; \
	echo "  $$demo crash"; \
	echo "      a NULL dereference: expect {\"time\":...,\"kind\":\"signal\",\"probe\":\"crashes\",...,"; \
	echo "      \"comm\":\"salve-demo\",...,\"signal\":\"SIGSEGV\",...,\"stack\":[...parse_request...]}"; \
	echo "  $$demo abort"; \
	echo "      a failed assert: expect the same with \"signal\":\"SIGABRT\""; \
	echo "  sudo systemd-run --wait $$demo exit 3"; \
	echo "      a service failing: expect {...,\"kind\":\"exit\",\"probe\":\"service-exits\",...,\"exit_code\":3,...}"; \
	echo "  sudo $(abspath $(BUILD)/salvectl) stats --socket $$sock"; \
	echo "      what the kernel saw and salved reported, per kind of event"; \
	echo "  sudo $(abspath $(BUILD)/salvectl) events --follow --socket $$sock"; \
	echo "      the events as they come, one readable line each (status, probes, rules, top:"; \
	echo "      salvectl help)"; \
	echo
	$(BUILD)/salved --policy $(RUN_POLICY) --state-dir $(RUN_DIR)/state --socket $(RUN_SOCKET) \
	    --pin-dir $(RUN_PINS) $(ARGS)

check: deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory all
	@for b in $(BENCH_BINS) $(wildcard tests/bench/*.sh); do "$$b" $(BUILD) || exit 1; done

# The policy parser under libFuzzer, ASan and UBSan, seeded from the shipped policies;
# FUZZ_SECONDS bounds the run. A crash, an out-of-bounds read or a leak fails it.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -std=gnu11 -Iinclude -Idaemon -DSALVE_VERSION='"$(VERSION)"' \
                $(shell $(PKG) --cflags json-c 2>/dev/null)
$(BUILD)/fuzz/fuzz_policy: tests/fuzz/fuzz_policy.c $(wildcard daemon/policy/*.c daemon/policy/*.h)
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_policy.c \
	    $(POLICY_SRCS) $(shell $(PKG) --libs json-c 2>/dev/null) -o $@

fuzz: deps
	@$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_policy
	@rm -rf $(BUILD)/fuzz/corpus && mkdir -p $(BUILD)/fuzz/corpus && \
	    cp policies/*.json policies/default/*.json $(BUILD)/fuzz/corpus/
	$(BUILD)/fuzz/fuzz_policy -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 \
	    -print_final_stats=1 $(BUILD)/fuzz/corpus

clean:
	rm -rf $(BUILD)

# ---- install, uninstall, deb ------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=DIR]; make uninstall takes the same. One list,
# INSTALL_LIST, says what goes where: install, uninstall and install-manifest (which prints
# every path install writes, for README's Install section and tests/integration/
# test_install.sh) all read it. Each entry is KIND SOURCE DEST:
#   prog  an executable, mode 0755
#   file  a data file, mode 0644
#   unit  the systemd unit, its paths (ExecStart's salved, the docs, /etc) set for PREFIX
#   conf  a policy under /etc: installed only where there is none; an operator's is kept
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
DOCDIR     ?= $(DATADIR)/doc/salve
POLICYDIR  := $(SYSCONFDIR)/salve/policies.d
# For PREFIX=/usr, where the distribution's systemd reads units (its systemd.pc says:
# /lib/systemd/system on Debian 12); any other prefix has its own lib/systemd/system,
# which systemd reads for /usr/local.
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),$(or $(shell $(PKG) --variable=systemdsystemunitdir \
              systemd 2>/dev/null),/lib/systemd/system),$(PREFIX)/lib/systemd/system)

INSTALL_LIST = \
	prog $(BUILD)/salved                    $(SBINDIR)/salved \
	prog $(BUILD)/salvectl                  $(BINDIR)/salvectl \
	unit systemd/salved.service             $(UNITDIR)/salved.service \
	conf policies/default/host.json         $(POLICYDIR)/host.json \
	conf policies/default/services.json     $(POLICYDIR)/services.json \
	file policies/salve-policy.schema.json  $(DATADIR)/salve/salve-policy.schema.json \
	file policies/web-service.json          $(DOCDIR)/examples/web-service.json \
	file README.md                          $(DOCDIR)/README.md \
	file policies/README.md                 $(DOCDIR)/policies/README.md \
	file man/salved.8                       $(MANDIR)/man8/salved.8 \
	file man/salvectl.8                     $(MANDIR)/man8/salvectl.8 \
	file man/salve-policy.5                 $(MANDIR)/man5/salve-policy.5 \
	file completion/salvectl.bash           $(DATADIR)/bash-completion/completions/salvectl
# The folders that hold only salve's files, removed by uninstall once empty (deepest first).
INSTALL_DIRS = $(DOCDIR)/examples $(DOCDIR)/policies $(DOCDIR) $(DATADIR)/salve \
	$(POLICYDIR) $(SYSCONFDIR)/salve
UNIT_SED = -e 's|/usr/sbin/salved|$(SBINDIR)/salved|g' -e 's|/usr/bin/salvectl|$(BINDIR)/salvectl|g' \
	-e 's|/usr/share/doc/salve|$(DOCDIR)|g' -e 's|/etc/salve/|$(SYSCONFDIR)/salve/|g'

.PHONY: uninstall install-manifest deb

install-manifest:
	@set -- $(INSTALL_LIST); while [ $$# -gt 0 ]; do echo "$$3"; shift 3; done

install: $(BUILD)/salved $(BUILD)/salvectl
	@set -- $(INSTALL_LIST); while [ $$# -gt 0 ]; do \
	    kind=$$1 src=$$2 dst="$(DESTDIR)$$3"; shift 3; \
	    case $$kind in \
	    prog) install -D -m 0755 "$$src" "$$dst" ;; \
	    file) install -D -m 0644 "$$src" "$$dst" ;; \
	    unit) mkdir -p "$$(dirname "$$dst")" && sed $(UNIT_SED) "$$src" > "$$dst.tmp" && \
	          chmod 0644 "$$dst.tmp" && mv "$$dst.tmp" "$$dst" ;; \
	    conf) if [ -e "$$dst" ] && ! cmp -s "$$src" "$$dst"; then \
	              printf '  %-8s %s\n' KEEP "$$dst: yours differs from the shipped $$src; not replaced (diff $$src $$dst shows how)"; \
	              continue; fi; \
	          install -D -m 0644 "$$src" "$$dst" ;; \
	    esac || exit 1; \
	    printf '  %-8s %s\n' INSTALL "$$dst"; \
	done

uninstall:
	@set -- $(INSTALL_LIST); while [ $$# -gt 0 ]; do \
	    kind=$$1 src=$$2 dst="$(DESTDIR)$$3"; shift 3; \
	    [ -e "$$dst" ] || continue; \
	    if [ $$kind = conf ] && ! cmp -s "$$src" "$$dst"; then \
	        printf '  %-8s %s\n' KEEP "$$dst: changed since it was installed (it differs from $$src); left in place"; \
	        continue; fi; \
	    rm -f "$$dst" && printf '  %-8s %s\n' REMOVE "$$dst" || exit 1; \
	done; \
	for d in $(INSTALL_DIRS); do \
	    [ -d "$(DESTDIR)$$d" ] && rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d"; done; true

# make deb: a Debian package of salve (debian/), built by dpkg-buildpackage in a copy of the
# sources under $(BUILD)/deb (its build/ kept between runs, so a second make deb rebuilds
# only what changed), then checked by lintian. The .deb lands in $(BUILD)/deb.
DEB_SRC := $(BUILD)/deb/salve-$(VERSION)
DEB_FILES := Makefile README.md bpf include daemon policies systemd man completion debian
deb:
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version) && [ "$$v" = "$(VERSION)" ] || \
	    { echo "make deb: debian/changelog is at version $$v, the Makefile at $(VERSION): add a changelog entry (dch -v $(VERSION))" >&2; exit 1; }
	@mkdir -p $(DEB_SRC)
	@find $(DEB_SRC) -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
	@rm -f $(BUILD)/deb/*.deb $(BUILD)/deb/*.changes $(BUILD)/deb/*.buildinfo
	@tar -c $(DEB_FILES) | tar -x -C $(DEB_SRC)
	$(call msg,DEB,$(DEB_SRC))cd $(DEB_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD dpkg-buildpackage -b -nc -us -uc -jauto \
	    > ../build.log 2>&1 || { tail -n 30 ../build.log; echo "make deb: dpkg-buildpackage failed (log: $(BUILD)/deb/build.log)" >&2; exit 1; }
	$(call msg,LINTIAN,$(BUILD)/deb/salve_$(VERSION)_*.deb)lintian --info --fail-on error \
	    $(BUILD)/deb/salve_$(VERSION)_*.changes
	@ls $(BUILD)/deb/*.deb

# criu-sid and bookworm-tree are Debian trees (tests/integration/lib/), full of *.d of their
# own; deb holds make deb's copy of the sources, whose *.d name its own objects, as does
# bench-before-REV, the older salved tests/bench/ringbuf.sh compares with.
-include $(shell find $(BUILD) \( -name criu-sid -o -name bookworm-tree -o -name deb \
	-o -name 'bench-before-*' \) -prune \
	-o -name '*.d' -type f -print 2>/dev/null)
