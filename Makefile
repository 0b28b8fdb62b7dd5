# natsedge build. `make run` starts the broker; `make test` runs every suite.
#
#   make [CONFIG=<profile>] [SAN=asan] [CC=clang]   build build/<variant>/natsedge
#   make STATIC=1 [CONFIG=<profile>]   the same linked statically, in build/<variant>-static
#   make test        install deps, then check + unit + interop + asan + fuzz (short), each step timed
#   make check       no-heap check (nm) over the broker's objects; includes follow the floors
#   make fresh-test  make test on a clean clone in a minimal Debian root (debootstrap; not part of test)
#   make unit        cmocka unit tests
#   make interop     node/nats.js and nats.c interop tests (tests/interop, tests/hostile) against the binary
#   make hostile     the hostile-client suites (tests/hostile) alone
#   make interop-parity   the same tests against Debian's nats-server (part of test)
#   make interop-passes   natsedge, nats-server and ASan passes side by side, as make test runs them
#   make conf-compare     configuration checks compared with nats-server on 4,800 files (300 in test)
#   make fuzz        run every libFuzzer harness briefly (FUZZ_SECONDS each)
#   make powercut CUTS=<n> SEED=<s>   the store's power-loss test alone
#   make interop-kill9 [KILLS=50] [KILL_SEED=<s>]   JetStream's kill -9 test at full length
#   make soak-saf [SAF_FLAPS=10] [SAF_SEED=<s>] [SAF_EDGE=<bin>]   the store-and-forward outage suite at full length
#   make powercut-js JS_CUTS=<n> SEED=<s>   JetStream's power-loss test (port/sim)
#   make powercut-mqtt [SEEDS=20] [SEED=<s>]   MQTT's power-cut tests with SEEDS more write-cache seeds
#   make bench       benchmarks against nats-server (not part of test; bench-leaf, bench-route, bench-saf)
#   make run [PORT=] [HTTP_PORT=]   the broker on 127.0.0.1 (4222; monitoring when HTTP_PORT is set)
#   make install [PREFIX=/usr/local] [DESTDIR=]   binary, /etc/natsedge/natsedge.conf, systemd unit, natsedge(8)
#   make deb         the same as a Debian package in build/deb (dpkg-deb, no network)
#   make tap         natsedge-tap: the broker over lwIP on a TAP device
#   make BOARD=mps2-an385 [CONFIG=tiny] [CONF=edge.conf]   Cortex-M3 firmware, its settings from CONF
#                    (make run-mps2, make footprint; make conf-tool: tools/conf_region.c, docs/firmware.md)
#   make CROSS=arm-linux-gnueabihf-       ARM Linux build (make unit-arm: unit tests under qemu-arm)
#
# Sources are found by wildcard: a new module under src/<module>/, a new unit
# test tests/unit/test_<name>.c (extra link flags in test_<name>.libs) or a new
# harness tests/fuzz/fuzz_<name>.c needs no change here.

CONFIG ?= default
SAN ?=
CC ?= cc
ifeq ($(CC),cc)
CC := gcc
endif

# STATIC=1: the natsedge binary linked statically (glibc's libc.a, Debian's
# libsodium.a, mbedTLS as always), for the smallest resident set on a
# gateway: no ld.so, no shared libc mapped, no relocations to dirty at start
# (docs/performance.md, "Idle MQTT connections"). Its own variant
# (<profile>-static), so a static and a dynamic build never share a
# directory; every other target is built as without it.
# The link warns that getaddrinfo "requires at runtime the shared libraries
# from the glibc version used for linking". That is harmless for the host
# names natsedge resolves (a leaf remote's URL): glibc 2.36's static
# getaddrinfo has NSS's `files` and `dns` built in and loads no shared
# library for them (it reads nsswitch.conf, host.conf, resolv.conf and
# hosts). Not covered: any other `hosts:` source in nsswitch.conf (mdns,
# systemd's `resolve`, myhostname, LDAP) is loaded at run time from the
# system's libnss_*.so, and works only when that glibc is the one linked
# here; where it cannot be loaded it is skipped, and names that only it knows
# do not resolve.
STATIC ?=
ifneq ($(filter-out 1,$(STATIC)),)
$(error STATIC=$(STATIC): say STATIC=1 for a statically linked natsedge, or nothing)
endif
ifeq ($(STATIC),1)
ifneq ($(SAN),)
$(error STATIC=1 with SAN=$(SAN): the sanitizers' run-time libraries are shared; build one or the other)
endif
endif

VARIANT := $(CONFIG)$(if $(SAN),-$(SAN))$(if $(filter clang%,$(notdir $(CC))),-clang)$(if $(STATIC),-static)
BUILD ?= build/$(VARIANT)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS_BASE := -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -g $(WARN) -Iconfig -Isrc -Iport -I.
ifneq ($(CONFIG),default)
CFLAGS_BASE += '-DNE_CONFIG_PROFILE_HEADER="profiles/$(CONFIG).h"'
endif
# ARM Linux: `make CROSS=arm-linux-gnueabihf-` (or aarch64-linux-gnu-) builds
# into build/<variant>-<triple> with Debian's cross compiler and the foreign
# architecture's -dev packages (multiarch, tools/deps.sh); `make unit` then
# runs the tests under qemu-user. Architecture-independent headers (jsmn,
# sodium, cmocka) come from /usr/include after the cross compiler's own.
CROSS ?=
ifneq ($(CROSS),)
CROSS_TRIPLE := $(patsubst %-,%,$(CROSS))
override CC := $(CROSS)gcc
VARIANT := $(VARIANT)-$(CROSS_TRIPLE)
CFLAGS_BASE += -idirafter /usr/include -Wno-type-limits
override LDFLAGS += -L/usr/lib/$(CROSS_TRIPLE)
UNIT_RUNNER := $(if $(filter aarch64%,$(CROSS_TRIPLE)),qemu-aarch64,qemu-arm) -L /usr/$(CROSS_TRIPLE)
endif
OPT ?= -O2
ifeq ($(SAN),asan)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT := -O1
endif
CFLAGS ?=
ALL_CFLAGS := $(CFLAGS_BASE) $(OPT) $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)
BOARD_LIBS := -lsodium

CORE_SRC := $(sort $(wildcard src/*/*.c))
POSIX_SRC := $(sort $(wildcard port/posix/*.c))
SIM_SRC := $(sort $(wildcard port/sim/*.c))
BOARD_SRC := $(sort $(wildcard board/linux/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_SUPPORT_SRC := $(sort $(wildcard tests/unit/support/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
POWERCUT_SRC := $(sort $(wildcard tests/powercut/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
CORE_OBJ := $(call obj,$(CORE_SRC))
POSIX_OBJ := $(call obj,$(POSIX_SRC))
SIM_OBJ := $(call obj,$(SIM_SRC))
BOARD_OBJ := $(call obj,$(BOARD_SRC))
UNIT_SUPPORT_OBJ := $(call obj,$(UNIT_SUPPORT_SRC))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
NATSEDGE := $(BUILD)/natsedge

.PHONY: all run test test-all check unit hostile fuzz powercut bench clean format format-check deps \
        build-clang test-asan

all: $(NATSEDGE)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libnecore.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libneposix.a: $(POSIX_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libnesim.a: $(SIM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(if $^,ar rcs $@ $^,printf '!<arch>\n' > $@)

# TLS: mbedTLS (2.28) compiled from MBEDTLS_DIR with config/mbedtls_config.h,
# once per compiler and sanitizer (it does not depend on the profile, so
# CONFIG=test-small shares the default's build); port/mbedtls wraps it behind port/port.h. Only the
# board links them: the core reaches TLS through the ne_tls table.
MBEDTLS_DIR ?= third_party/mbedtls
MBEDTLS_MODULES := aes asn1parse asn1write base64 bignum chacha20 chachapoly cipher cipher_wrap \
    constant_time ctr_drbg ecdh ecdsa ecp ecp_curves error gcm md memory_buffer_alloc oid pem pk \
    pk_wrap pkparse platform platform_util poly1305 rsa rsa_internal sha1 sha256 sha512 \
    ssl_ciphersuites ssl_cli ssl_msg ssl_srv ssl_tls x509 x509_crt
MBEDTLS_BUILD ?= build/mbedtls-$(notdir $(CC))$(if $(SAN),-$(SAN))
MBEDTLS_LIB := $(MBEDTLS_BUILD)/libmbedtls.a
MBEDTLS_OBJ := $(patsubst %,$(MBEDTLS_BUILD)/%.o,$(MBEDTLS_MODULES))
MBEDTLS_CFLAGS := -I$(MBEDTLS_DIR)/include '-DMBEDTLS_CONFIG_FILE="mbedtls_config.h"'
TLS_SRC := $(sort $(wildcard port/mbedtls/*.c))
TLS_OBJ := $(call obj,$(TLS_SRC))
$(TLS_OBJ) $(BOARD_OBJ): ALL_CFLAGS += $(MBEDTLS_CFLAGS)
$(TLS_OBJ) $(BOARD_OBJ): | $(MBEDTLS_DIR)/include/mbedtls/ssl.h
$(MBEDTLS_DIR)/include/mbedtls/ssl.h:
	@echo "mbedTLS not found in $(MBEDTLS_DIR): run 'make deps' (tools/deps.sh) or set MBEDTLS_DIR"; exit 1
# Third-party code: its own warnings are not ours to fix, so no -Werror.
$(MBEDTLS_BUILD)/%.o: $(MBEDTLS_DIR)/library/%.c config/mbedtls_config.h config/mbedtls_platform.h
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -O2 -g $(SANFLAGS) -Iconfig $(MBEDTLS_CFLAGS) -c $< -o $@
$(MBEDTLS_LIB): $(MBEDTLS_OBJ)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libnetls.a: $(TLS_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The TLS port's unit test links the engine and mbedTLS (then the POSIX port
# again, for the entropy the engine takes from it).
$(BUILD)/tests/test_tls_mbedtls: $(BUILD)/libnetls.a $(MBEDTLS_LIB)
$(BUILD)/tests/test_tls_mbedtls: private ALL_CFLAGS += $(MBEDTLS_CFLAGS)
$(BUILD)/tests/test_tls_mbedtls: private LDFLAGS_ALL += $(BUILD)/libnetls.a $(MBEDTLS_LIB) $(BUILD)/libneposix.a

# STATIC=1 links this binary alone with -static (see STATIC above).
$(NATSEDGE): $(BOARD_OBJ) $(BUILD)/libnecore.a $(BUILD)/libneposix.a $(BUILD)/libnetls.a $(MBEDTLS_LIB)
	$(CC) $(LDFLAGS_ALL) $(if $(STATIC),-static) -o $@ $(BOARD_OBJ) $(BUILD)/libnecore.a $(BUILD)/libneposix.a \
	    $(BUILD)/libnetls.a $(MBEDTLS_LIB) $(BOARD_LIBS)

# Unit tests: one binary per tests/unit/test_<name>.c.
$(BUILD)/tests/%: tests/unit/%.c $(UNIT_SUPPORT_OBJ) $(BUILD)/libnecore.a $(BUILD)/libnesim.a $(BUILD)/libneposix.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -MMD -MP -MF $@.d -o $@ $< $(UNIT_SUPPORT_OBJ) $(BUILD)/libnesim.a $(BUILD)/libnecore.a \
	    $(BUILD)/libneposix.a $(BUILD)/libnecore.a $(LDFLAGS_ALL) -lcmocka \
	    $(shell cat tests/unit/$*.libs 2>/dev/null) $(BOARD_LIBS)

unit: $(UNIT_BIN)
	@set -e; failed=0; for t in $(UNIT_BIN); do \
	    echo "== $$t"; $(UNIT_RUNNER) $$t || failed=1; done; \
	    test $$failed -eq 0

# No heap in the broker: nm over every object of src/ and port/, and of the
# mbedTLS library as configured (its allocations go to a static region).
check: $(CORE_OBJ) $(POSIX_OBJ) $(SIM_OBJ) $(TLS_OBJ) $(MBEDTLS_OBJ)
	@bad=$$(nm -A $^ 2>/dev/null | grep -E ' U (malloc|calloc|realloc|free|strdup|strndup|aligned_alloc|posix_memalign|reallocarray)$$' || true); \
	if [ -n "$$bad" ]; then echo "check: heap calls in the broker:"; echo "$$bad"; exit 1; fi; \
	echo "check: no heap calls in $(words $^) objects of src/, port/ and mbedTLS"
	@bash tools/check-floors.sh

# The store's power-loss test.
CUTS ?= 1000
SEED ?= 1
$(BUILD)/tests/powercut: $(POWERCUT_SRC) $(BUILD)/libnecore.a $(BUILD)/libnesim.a $(BUILD)/libneposix.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(POWERCUT_SRC) $(BUILD)/libnesim.a $(BUILD)/libnecore.a $(BUILD)/libneposix.a $(LDFLAGS_ALL)
powercut: $(BUILD)/tests/powercut
	$(BUILD)/tests/powercut --cuts $(CUTS) --seed $(SEED)

# MQTT's power-cut tests (tests/unit/test_mqtt_persist.c) with SEEDS other
# seeds of the write cache, from SEED on (make test runs the fixed one).
SEEDS ?= 20
.PHONY: powercut-mqtt
powercut-mqtt: $(BUILD)/tests/test_mqtt_persist
	@set -e; s=$(SEED); end=$$(($(SEED) + $(SEEDS))); while [ $$s -lt $$end ]; do \
	    NE_MQTT_CUT_SEED=$$s $< > $(BUILD)/tests/powercut-mqtt.log 2>&1 || \
	    { cat $(BUILD)/tests/powercut-mqtt.log; echo "powercut-mqtt: seed $$s failed"; exit 1; }; \
	    s=$$((s + 1)); done; echo "powercut-mqtt: $(SEEDS) seeds from $(SEED) passed"

# Interop: the real binary driven by real clients. Every tests/<dir>/ that
# holds node test files (*.test.mjs: tests/interop, tests/hostile, and any
# directory added later) runs twice in `make test`: against natsedge
# (`make interop`) and, with the same assertions, against Debian's
# nats-server 2.9.10 (`make interop-parity`). A test of natsedge-only
# behaviour skips itself in the parity pass and says why in its name
# (tests/interop/README.md lists them). Every test file has a deadline
# (NODE_TEST_TIMEOUT_MS: node 20 applies --test-timeout to each file's
# process) on top of the bounded waits inside: a broken test fails, it never
# hangs.
# The board suites (lwIP over TAP, the mps2-an385 firmware in QEMU) fail when
# they cannot run (no TUN, not root, no QEMU) unless SKIP_BOARDS=1 says to
# skip them (their builds are skipped too). The MQTT suites take their
# reference broker per case in the parity pass: nats-server for MQTT 3.1.1,
# mosquitto for MQTT 5 and QoS 2 (tests/interop/lib/mqtt.mjs).
NODE_TEST_DIRS := $(sort $(dir $(wildcard tests/*/*.test.mjs)))
NODE_TEST_TIMEOUT_MS ?= 300000
NODE_TEST := node --test --test-concurrency=1 --test-timeout=$(NODE_TEST_TIMEOUT_MS)
NATS_SERVER_BIN ?= /usr/sbin/nats-server
SKIP_BOARDS ?=
# The broker under test comes in three builds, all of the same variant (SAN,
# clang): the default profile, test-small (small pools, NATSEDGE_SMALL_BIN)
# and tiny (the MCU's profile, NATSEDGE_TINY_BIN). The parity pass gives
# nats-server for all three; the harness configures it with the limits of
# the profile asked for.
profile_bin = build/$(1)$(if $(SAN),-$(SAN))$(if $(filter clang%,$(notdir $(CC))),-clang)/natsedge
SMALL_BIN = $(call profile_bin,test-small)
TINY_BIN = $(call profile_bin,tiny)
PROFILE_BINS = NATSEDGE_BIN=$(abspath $(NATSEDGE)) NATSEDGE_SMALL_BIN=$(abspath $(SMALL_BIN)) \
  NATSEDGE_TINY_BIN=$(abspath $(TINY_BIN))
# The default profile linked statically (STATIC=1, NATSEDGE_STATIC_BIN) for
# tests/interop/static_build.test.mjs: in the natsedge pass only (a
# sanitized build cannot be static; the parity pass has no natsedge).
STATIC_BIN = build/$(CONFIG)$(if $(filter clang%,$(notdir $(CC))),-clang)-static/natsedge
INTEROP_C = $(abspath $(BUILD))/interop-c
.PHONY: interop interop-build interop-run interop-parity interop-c
interop-c:
	$(MAKE) -C tests/interop/c BUILD=$(INTEROP_C) CC=$(CC) SANFLAGS="$(SANFLAGS)"
BOARDS := $(if $(filter 1,$(SKIP_BOARDS)),,yes)
# make interop = interop-build (the three profiles, the board images) then
# interop-run (the suites alone, on what is built).
interop: interop-build
	$(MAKE) --no-print-directory interop-run
interop-build: $(NATSEDGE) interop-c
	$(MAKE) CONFIG=test-small SAN=$(SAN) CC=$(CC) all
	$(MAKE) CONFIG=tiny SAN=$(SAN) CC=$(CC) all
	$(if $(SAN),,$(MAKE) STATIC=1 CC=$(CC) all)
	$(if $(BOARDS),$(MAKE) SAN=$(SAN) CC=$(CC) tap)
	$(if $(BOARDS),$(MAKE) CONFIG=tiny -j2 firmware conf-tool)
	$(if $(BOARDS),$(MAKE) CONFIG=tiny-mqtt -j2 firmware)
	$(if $(BOARDS),$(MAKE) CONFIG=tiny-js -j2 firmware conf-tool)
interop-run:
	$(PROFILE_BINS) $(if $(SAN),,NATSEDGE_STATIC_BIN=$(abspath $(STATIC_BIN))) \
	  $(if $(BOARDS),NATSEDGE_TAP_BIN=$(abspath $(NATSEDGE_TAP))) \
	  $(if $(BOARDS),NATSEDGE_MPS2_ELF=$(abspath build/mps2-an385-tiny/natsedge.elf)) \
	  $(if $(BOARDS),NATSEDGE_MPS2_MQTT_ELF=$(abspath build/mps2-an385-tiny-mqtt/natsedge.elf)) \
	  $(if $(BOARDS),NATSEDGE_MPS2_JS_ELF=$(abspath build/mps2-an385-tiny-js/natsedge.elf)) \
	  $(if $(BOARDS),NATSEDGE_MPS2_JS_CONF_TOOL=$(abspath build/tiny-js/tools/conf_region)) \
	  $(if $(BOARDS),NATSEDGE_MPS2_CONF_TOOL=$(abspath build/tiny/tools/conf_region)) \
	  NATSEDGE_INTEROP_C=$(INTEROP_C) NATS_SERVER_BIN=$(NATS_SERVER_BIN) SKIP_BOARDS=$(SKIP_BOARDS) \
	  $(NODE_TEST) $(NODE_TEST_DIRS)
interop-parity: interop-c
	NATSEDGE_BIN=$(NATS_SERVER_BIN) NATSEDGE_SMALL_BIN=$(NATS_SERVER_BIN) NATSEDGE_TINY_BIN=$(NATS_SERVER_BIN) \
	  NATSEDGE_INTEROP_C=$(INTEROP_C) NATS_SERVER_BIN=$(NATS_SERVER_BIN) \
	  $(NODE_TEST) $(NODE_TEST_DIRS)

# make test's three interop passes, side by side (tools/side-by-side.sh):
# natsedge, the same suites against nats-server, and natsedge built with
# ASan. Each file runs alone within its pass, as in make interop; the passes
# overlap because most of their time is spent waiting on the timers the
# tests exercise (deadlines, keep-alives, reconnect delays). Every log is
# printed whole at the end and kept in build/test-logs/.
.PHONY: interop-passes
interop-passes: interop-build
	$(MAKE) SAN=asan interop-build
	bash tools/side-by-side.sh build/test-logs \
	  natsedge '$(MAKE) --no-print-directory interop-run' \
	  nats-server '$(MAKE) --no-print-directory interop-parity' \
	  asan '$(MAKE) --no-print-directory SAN=asan interop-run'

# JetStream's kill -9 test at full length (issue 16): 50 kills of natsedge at
# random points while publishes and acks are in flight (make test runs 10;
# KILL_SEED fixes the points).
KILLS ?= 50
.PHONY: interop-kill9
interop-kill9: $(NATSEDGE)
	NATSEDGE_BIN=$(abspath $(NATSEDGE)) NATSEDGE_KILLS=$(KILLS) \
	  NATSEDGE_KILL_SEED=$(or $(KILL_SEED),$(shell date +%s%N | cut -c10-15)) \
	  $(NODE_TEST) tests/interop/jetstream_kill.test.mjs

# Configuration checks compared with nats-server (tools/conf_compare.mjs):
# generated files, `nats-server -t -c` and `natsedge -t -c` on each, accepted
# or refused alike and the same error line, outside the differences.md
# cases. `make test` runs CONF_COMPARE_SHORT of them; `make conf-compare`
# all 4,800 (3 to 6 minutes on 2 cores).
CONF_COMPARE_COUNT ?= 4800
CONF_COMPARE_SHORT ?= 300
CONF_COMPARE_SEED ?= 1
.PHONY: conf-compare conf-compare-short
conf-compare: $(NATSEDGE)
	node tools/conf_compare.mjs --natsedge $(NATSEDGE) --nats-server $(NATS_SERVER_BIN) \
	  --count $(CONF_COMPARE_COUNT) --seed $(CONF_COMPARE_SEED)
conf-compare-short:
	$(MAKE) conf-compare CONF_COMPARE_COUNT=$(CONF_COMPARE_SHORT)

# The hostile-client suites alone (both passes run them with the others).
hostile: $(NATSEDGE)
	$(MAKE) CONFIG=test-small SAN=$(SAN) CC=$(CC) all
	$(MAKE) CONFIG=tiny SAN=$(SAN) CC=$(CC) all
	$(PROFILE_BINS) NATS_SERVER_BIN=$(NATS_SERVER_BIN) $(NODE_TEST) tests/hostile/

# Fuzzing: clang libFuzzer over the core sources. The protocol harnesses
# (fuzz_proto, fuzz_conn) get twice FUZZ_SECONDS: about 30 s of parser fuzzing
# in `make test`. Longer: make fuzz FUZZ_SECONDS=600 FUZZ_SEED=0.
FUZZ_SECONDS ?= 8
# A fixed seed keeps the short runs of `make test` reproducible; 0 is random.
FUZZ_SEED ?= 1
FUZZ_BUILD := build/fuzz
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRC))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := $(CFLAGS_BASE) -Wno-missing-prototypes -O1 $(FUZZ_SAN)
# The broker's sources are compiled once with coverage instrumentation, then
# every harness links against them. port/sim comes in its own archive ahead
# of the others, as for the unit tests: a harness that drives the simulated
# clock gets its ne_port_now_ms instead of the POSIX one.
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(CORE_SRC) $(POSIX_SRC))
FUZZ_SIM_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(SIM_SRC))
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/libfuzzcore.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
$(FUZZ_BUILD)/libfuzzsim.a: $(FUZZ_SIM_OBJ)
	rm -f $@ && ar rcs $@ $^
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_BUILD)/libfuzzsim.a $(FUZZ_BUILD)/libfuzzcore.a
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libfuzzsim.a $(FUZZ_BUILD)/libfuzzcore.a $(shell cat tests/fuzz/$*.libs 2>/dev/null) $(BOARD_LIBS)
fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	    seeds=""; [ -d tests/fuzz/corpus/$$n ] && seeds=tests/fuzz/corpus/$$n; \
	    t=$(FUZZ_SECONDS); case $$n in fuzz_conn|fuzz_proto) t=$$((t * 2));; esac; \
	    echo "== fuzz $$n ($${t}s)"; \
	    $$f -max_total_time=$$t -seed=$(FUZZ_SEED) -print_final_stats=0 $(FUZZ_BUILD)/corpus/$$n $$seeds 2>$(FUZZ_BUILD)/$$n.log \
	      || { tail -50 $(FUZZ_BUILD)/$$n.log; exit 1; }; \
	    grep -E '^(#[0-9]+.*DONE|Done)' $(FUZZ_BUILD)/$$n.log | tail -1; done

# A clang build of everything, warning-free like gcc.
build-clang:
	$(MAKE) -j2 CC=clang all $(patsubst build/$(VARIANT)/%,build/$(CONFIG)-clang/%,$(UNIT_BIN))

# The ASan build of everything make test runs under ASan: the broker, its
# unit tests, and the test-small and tiny brokers of the interop suites.
# test-asan runs them one after the other; make test runs the unit tests
# (asan-unit) and the interop pass (in interop-passes) apart.
.PHONY: test-asan asan-build asan-unit
asan-build:
	$(MAKE) -j2 SAN=asan all $(patsubst build/$(VARIANT)/%,build/$(CONFIG)-asan/%,$(UNIT_BIN))
	$(MAKE) -j2 CONFIG=test-small SAN=asan all
	$(MAKE) -j2 CONFIG=tiny SAN=asan all
asan-unit: asan-build
	$(MAKE) SAN=asan unit
test-asan: asan-build
	$(MAKE) SAN=asan unit interop

deps:
	bash tools/deps.sh

# A missing install step shows here: make test on a clean clone of HEAD in a
# minimal Debian root built by debootstrap from the configured mirror.
.PHONY: fresh-test
fresh-test:
	bash tools/fresh-test.sh

test: deps
	$(MAKE) -j2 all $(UNIT_BIN) $(FUZZ_BIN)
	$(MAKE) -j2 STATIC=1 all
	$(MAKE) test-all

# make test's steps, one after the other, each timed. The last runs the
# three interop passes side by side with the CPU-bound suites (the clang
# build, the fuzz runs, the power-loss runs, the ARM unit tests under
# qemu-arm), those at nice 19: they take the CPU the passes leave idle while
# the passes wait on their timers, and give it back when a pass needs it.
TEST_STEPS := all check format-check unit asan-unit conf-compare-short test-side-by-side
TEST_BACKGROUND := build-clang fuzz powercut-short unit-arm
test-all:
	@set -e; t0=$$(date +%s); for t in $(TEST_STEPS); do s=$$(date +%s); \
	    $(MAKE) --no-print-directory $$t; \
	    echo "make test: $$t passed after $$(($$(date +%s) - s)) s"; done; \
	echo "make test: all suites passed in $$(($$(date +%s) - t0)) s"
.PHONY: test-side-by-side test-background
test-side-by-side: interop-build
	$(MAKE) SAN=asan interop-build
	bash tools/side-by-side.sh build/test-logs \
	  natsedge '$(MAKE) --no-print-directory interop-run' \
	  nats-server '$(MAKE) --no-print-directory interop-parity' \
	  asan '$(MAKE) --no-print-directory SAN=asan interop-run' \
	  background 'nice -n 19 $(MAKE) --no-print-directory test-background'
test-background:
	@set -e; for t in $(TEST_BACKGROUND); do s=$$(date +%s); \
	    $(MAKE) --no-print-directory $$t; \
	    echo "make test: $$t passed after $$(($$(date +%s) - s)) s"; done

# The store's short power-loss run (skipped only while no store exists).
powercut-short:
ifneq ($(POWERCUT_SRC),)
	$(MAKE) powercut CUTS=1000 SEED=7
	$(MAKE) kill9 ROUNDS=10 SEED=7
	$(MAKE) powercut-js JS_CUTS=200 SEED=7
else
	@echo "powercut: no store power-loss test in tests/powercut yet"
endif

# `make run [PORT=4222] [HTTP_PORT=8222]`: the broker on 127.0.0.1, with
# HTTP monitoring when HTTP_PORT is given.
PORT ?= 4222
HTTP_PORT ?=
run: all
	$(NATSEDGE) -a 127.0.0.1 -p $(PORT) $(if $(HTTP_PORT),-m $(HTTP_PORT))

bench: all
	bash tools/compare

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_SIM_OBJ:.o=.d)
-include $(CORE_OBJ:.o=.d) $(POSIX_OBJ:.o=.d) $(SIM_OBJ:.o=.d) $(BOARD_OBJ:.o=.d) $(UNIT_SUPPORT_OBJ:.o=.d)
# A unit test is compiled and linked in one step: its dependencies (the
# headers, and the board sources some tests include) in <binary>.d.
-include $(UNIT_BIN:=.d)
-include $(TLS_OBJ:.o=.d)

# ---- codec section (snappy benchmark) ----------------------------------------

# `make bench-snappy`: ours vs libsnappy, speed and ratio (not part of `make test`).
# It links this variant's library, so run it without SAN= for meaningful figures;
# SNAPPY_BENCH_ARGS="--runs N --mib M" changes the runs per figure and corpus size.
SNAPPY_BENCH := $(BUILD)/tools/snappy_bench
$(SNAPPY_BENCH): tools/snappy_bench.c tests/unit/test_snappy_corpus.h $(BUILD)/libnecore.a $(BUILD)/libneposix.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O2 $(CFLAGS) -o $@ $< $(BUILD)/libnecore.a $(BUILD)/libneposix.a \
	    $(BUILD)/libnecore.a -lsnappy $(BOARD_LIBS)
.PHONY: bench-snappy
bench-snappy: $(SNAPPY_BENCH)
	$(SNAPPY_BENCH) $(SNAPPY_BENCH_ARGS)

# ---- store section ----------------------------------------------------------

# `make bench-store`: the storage engine's figures (not part of `make test`):
# RAM per stream and per subject, append throughput to the file-backed store,
# recovery of a million records, erase-count spread, and 1, 16 and 256
# streams with a consumer each on one device (tools/store_bench.c). Built
# twice from the sources: with the default knobs, and with the gateway
# profile's (STORE_BENCH_KNOBS). The device file goes to
# $(BUILD)/store_bench.flash (256 MiB while it runs).
STORE_BENCH_SRC := tools/store_bench.c $(sort $(wildcard src/store/*.c)) src/codec/ne_crc32c.c \
    src/codec/ne_snappy.c src/core/ne_subject.c src/core/ne_error.c src/core/ne_fmt.c src/core/ne_pool.c \
    port/posix/ne_file_flash.c port/posix/posix_sys.c port/sim/ne_sim_flash.c
STORE_BENCH_DEPS := $(STORE_BENCH_SRC) $(wildcard src/store/*.h) config/ne_config_store.h
STORE_BENCH_KNOBS ?= $(if $(filter default,$(CONFIG)),'-DNE_CONFIG_PROFILE_HEADER="profiles/gateway.h"')
$(BUILD)/tools/store_bench: $(STORE_BENCH_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O2 $(STORE_BENCH_KNOBS) $(CFLAGS) -o $@ $(STORE_BENCH_SRC)
$(BUILD)/tools/store_bench_default: $(STORE_BENCH_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O2 $(CFLAGS) -o $@ $(STORE_BENCH_SRC)
.PHONY: bench-store
bench-store: $(BUILD)/tools/store_bench $(BUILD)/tools/store_bench_default
	@echo "== default knobs"
	$(BUILD)/tools/store_bench_default --sizes --wear
	@echo "== gateway knobs: $(STORE_BENCH_KNOBS)"
	$(BUILD)/tools/store_bench --sizes --append --recover --streams --path $(BUILD)/store_bench.flash

# `make fuzz-store-corpus`: rewrites the seed images of fuzz_store
# (tests/fuzz/corpus/fuzz_store/seed-*) with the store's current format, from
# a deterministic workload with power cuts (tests/fuzz/store_corpus.c).
$(BUILD)/tools/store_corpus: tests/fuzz/store_corpus.c $(BUILD)/libnecore.a $(BUILD)/libnesim.a $(BUILD)/libneposix.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libnesim.a $(BUILD)/libnecore.a $(BUILD)/libneposix.a $(LDFLAGS_ALL)
.PHONY: fuzz-store-corpus
fuzz-store-corpus: $(BUILD)/tools/store_corpus
	rm -f tests/fuzz/corpus/fuzz_store/seed-*
	$(BUILD)/tools/store_corpus tests/fuzz/corpus/fuzz_store

# `make kill9 ROUNDS=<n> SEED=<s>`: the file-backed device under kill -9 (a
# child writing to a real file, killed by SIGKILL at random points, the
# file reopened and checked; tests/powercut/kill9/kill9.c). make test runs
# 10 rounds from powercut-short.
ROUNDS ?= 10
$(BUILD)/tests/kill9: tests/powercut/kill9/kill9.c $(BUILD)/libnecore.a $(BUILD)/libneposix.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libnecore.a $(BUILD)/libneposix.a $(LDFLAGS_ALL)
.PHONY: kill9
kill9: $(BUILD)/tests/kill9
	$(BUILD)/tests/kill9 --rounds $(ROUNDS) --seed $(SEED)

# JetStream's power-loss test (tests/powercut/js): the broker on port/sim, a
# file stream, a KV bucket and a durable consumer on a simulated flash
# behind a write cache, power cut at random points, restarted and checked.
# make test runs JS_CUTS=200 SEED=7 (powercut-short).
JS_CUTS ?= 200
$(BUILD)/tests/js_powercut: tests/powercut/js/js_powercut.c $(BUILD)/libnecore.a $(BUILD)/libnesim.a $(BUILD)/libneposix.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libnesim.a $(BUILD)/libnecore.a $(BUILD)/libneposix.a \
	    $(BUILD)/libnecore.a $(LDFLAGS_ALL) $(BOARD_LIBS)
.PHONY: powercut-js
powercut-js: $(BUILD)/tests/js_powercut
	$(BUILD)/tests/js_powercut --cuts $(JS_CUTS) --seed $(SEED)

# `make powercut-regressions`: seeds of the power-loss test that once failed,
# each run again at the size that found it (not part of `make test`; the
# mechanism behind each has a unit test in tests/unit/test_store_*.c).
# A seed reproduces its run only on the harness version that found it.
#   974795: synced front removals came back after an aborted merge (the
#           single-log harness); on the many-log harness, a consumer replayed
#           an ack lost with a later delivery kept (cut 19392) and a stream
#           with discard old dropped messages that could not make room.
#   2, 3:   a full device made consumer logs and streams with discard old
#           drop records that could not make room.
#   10045:  an erasure whose block rewrite did not fit returned NE_ERR_FULL
#           after writing its tombstone; the next sync made the removal
#           durable (cut 4234).
#   955216: a RAFT log whose entry right after the snapshot was lost behind
#           the write cache kept the later ones: a hole (cut 3653).
#   517686: a truncation refused for space left its new epoch in RAM; the
#           next sync wrote it and synced removals came back (cut 8123).
#   927297: a RAFT log without a snapshot whose entry 1 was lost kept the
#           later ones (cut 19502).
#   411879: a new head's first cache line, kept from a cut, came back
#           beside the same block's next life (erased, reused, no sync
#           between): an unsynced purge's floor removed synced messages
#           (cut 9618).
#   403716: on a full device, max_msgs_per_subject needed a tombstone at
#           attach and the stream could not be loaded (cut 2609; the run
#           passes since the fix for 411879, the unit test keeps the case).
POWERCUT_REGRESSIONS ?= 974795:20000 2:4000 3:1000 10045:4240 955216:3670 517686:8130 \
                        927297:19510 411879:9618 403716:20000
.PHONY: powercut-regressions
powercut-regressions: $(BUILD)/tests/powercut
	@for r in $(POWERCUT_REGRESSIONS); do \
	    echo "== powercut seed $${r%%:*}, $${r##*:} cuts"; \
	    $(BUILD)/tests/powercut --seed $${r%%:*} --cuts $${r##*:} > $(BUILD)/powercut-regression.log \
	      || { tail -20 $(BUILD)/powercut-regression.log; exit 1; }; \
	    tail -1 $(BUILD)/powercut-regression.log; done

# ---- bench section ----------------------------------------------------------
# tools/bench, the benchmark client, and tools/compare (natsedge against
# nats-server); neither is part of `make test`. See docs/performance.md.
#   make bench-tool      build/bench/bench
#   make bench-aa        tools/compare --aa: nats-server against itself (noise floor)
#   make bench-mqtt      tools/mqtt_bench.sh: MQTT against nats-server and mosquitto
#                        (throughput, latency, 10,000 idle connections)
#   make bench-js        tools/js_bench.sh: JetStream against nats-server -js
#   make bench-store-js  its N-stream section alone (1, 16, 256 file streams)
BENCH_DIR := build/bench
BENCH_TOOL := $(BENCH_DIR)/bench
BENCH_SRC := $(sort $(wildcard tools/bench/*.c))
.PHONY: bench-tool bench-aa
bench-tool: $(BENCH_TOOL)
$(BENCH_TOOL): $(BENCH_SRC) $(wildcard tools/bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -o $@ $(BENCH_SRC) -lm
bench-aa: bench-tool
	bash tools/compare --aa
.PHONY: bench-mqtt
bench-mqtt: $(NATSEDGE) bench-tool
	bash tools/mqtt_bench.sh $(NATSEDGE)
# `make bench-js`: JetStream against nats-server -js in one run (tools/js_bench.sh:
# sync and async publish, pull fetch with explicit acks, KV put/get, RSS with
# 1, 100 and 1,000 file streams, append and read+ack over 1, 16 and 256 file
# streams), reported as ratios; not part of make test.
.PHONY: bench-js
bench-js: $(NATSEDGE) bench-tool
	bash tools/js_bench.sh $(NATSEDGE)

# `make bench-store-js`: only the N-stream section of tools/js_bench.sh
# (js-multi: append and read+ack rates over 1, 16 and 256 file streams,
# natsedge/nats-server ratios; docs/storage.md).
.PHONY: bench-store-js
bench-store-js: $(NATSEDGE) bench-tool
	JS_BENCH_SECTIONS=multi bash tools/js_bench.sh $(NATSEDGE)

# ---- lwIP section (port/lwip, board/linux-tap) -------------------------------
# lwIP 2.1.3 from LWIP_DIR (tools/deps.sh fetches Debian's source package into
# third_party/lwip), compiled per board with that board's lwipopts.h.
#   make tap         build/<variant>/natsedge-tap: the broker over lwIP on a TAP device
LWIP_DIR ?= third_party/lwip
LWIP_SRC = $(sort $(wildcard $(LWIP_DIR)/src/core/*.c) $(wildcard $(LWIP_DIR)/src/core/ipv4/*.c)) \
    $(LWIP_DIR)/src/netif/ethernet.c
LWIP_PORT_SRC := $(sort $(wildcard port/lwip/*.c))
LWIP_STAMP := $(LWIP_DIR)/src/include/lwip/init.h
$(LWIP_STAMP):
	@echo "lwIP not found in $(LWIP_DIR): run 'make deps' (tools/deps.sh) or set LWIP_DIR"; exit 1
# lwIP's own code builds with its own warnings (not ours to fix: no -Werror),
# with the profile's natsedge config visible to the board's lwipopts.h.
LWIP_PROFILE_FLAG := $(if $(filter-out default,$(CONFIG)),'-DNE_CONFIG_PROFILE_HEADER="profiles/$(CONFIG).h"')

TAP_BUILD := $(BUILD)/tap
TAP_INC := -I$(LWIP_DIR)/src/include -Iport/lwip -Iboard/linux-tap
TAP_SRC := $(LWIP_PORT_SRC) $(sort $(wildcard board/linux-tap/*.c)) board/linux/cli.c
TAP_OBJ := $(patsubst %.c,$(TAP_BUILD)/obj/%.o,$(TAP_SRC))
TAP_LWIP_OBJ = $(patsubst $(LWIP_DIR)/%.c,$(TAP_BUILD)/lwip/%.o,$(LWIP_SRC))
# `make check` covers the lwIP port and lwIP as configured (static pools).
check: $(patsubst %.c,$(TAP_BUILD)/obj/%.o,$(LWIP_PORT_SRC)) $(TAP_LWIP_OBJ)
NATSEDGE_TAP := $(BUILD)/natsedge-tap
.PHONY: tap
tap: $(NATSEDGE_TAP)
$(TAP_BUILD)/obj/%.o: %.c | $(LWIP_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TAP_INC) -MMD -MP -c $< -o $@
$(TAP_BUILD)/lwip/%.o: $(LWIP_DIR)/%.c board/linux-tap/lwipopts.h | $(LWIP_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu99 -O2 -g $(SANFLAGS) -Iconfig -I. $(LWIP_PROFILE_FLAG) $(TAP_INC) -c $< -o $@
$(TAP_BUILD)/liblwip.a: $(TAP_LWIP_OBJ)
	rm -f $@ && ar rcs $@ $^
$(NATSEDGE_TAP): $(TAP_OBJ) $(TAP_BUILD)/liblwip.a $(BUILD)/libnecore.a $(BUILD)/libneposix.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(TAP_OBJ) $(TAP_BUILD)/liblwip.a $(BUILD)/libnecore.a \
	    $(BUILD)/libneposix.a $(BOARD_LIBS)
-include $(TAP_OBJ:.o=.d)

# ---- leaf section -------------------------------------------------------------
# `make soak-leaf`: SOAK_SECONDS (default 300) of traffic through natsedge as a
# leaf of nats-server, the hub restarted every 30 s; the run fails on a crash,
# on delivery that does not resume, or on pools not back to idle at the end
# (tests/interop/leaf_soak.test.mjs; its 30 s version runs in `make interop`).
# `make bench-leaf`: msgs/s through natsedge-as-leaf against nats-server-as-leaf
# in the same topology, as a ratio (tools/leaf_bench.sh; not part of make test).
SOAK_SECONDS ?= 300
.PHONY: soak-leaf bench-leaf
soak-leaf: $(NATSEDGE)
	NATSEDGE_BIN=$(abspath $(NATSEDGE)) LEAF_SOAK_SECONDS=$(SOAK_SECONDS) LEAF_SOAK_RESTART_SECONDS=30 \
	  node --test --test-concurrency=1 tests/interop/leaf_soak.test.mjs
bench-leaf: $(NATSEDGE) bench-tool
	bash tools/leaf_bench.sh $(NATSEDGE)

# `make soak-saf`: the store-and-forward outage suite at full length (issue 18,
# tests/interop/saf_outage.test.mjs; make test runs 3 outages of 1 to 3 s with
# seed 1): SAF_FLAPS (10) cuts of the leaf link of 1 to 30 s, the edge killed
# with -9 in one of them, with a new seed each run, printed; SAF_SEED=<seed>
# replays a failing one. SAF_EDGE=/usr/sbin/nats-server runs the same with
# nats-server as the edge (its sourcing part: nats-server has no forwarder).
SAF_FLAPS ?= 10
SAF_MAX_OUTAGE_MS ?= 30000
.PHONY: soak-saf
soak-saf: $(NATSEDGE)
	@seed=$(or $(SAF_SEED),$$(date +%s%N | cut -c10-15)); echo "soak-saf: SAF_SEED=$$seed"; \
	NATSEDGE_BIN=$(or $(SAF_EDGE),$(abspath $(NATSEDGE))) NATS_SERVER_BIN=$(NATS_SERVER_BIN) SAF_SEED=$$seed \
	  SAF_FLAPS=$(SAF_FLAPS) SAF_MAX_OUTAGE_MS=$(SAF_MAX_OUTAGE_MS) \
	  node --test --test-concurrency=1 tests/interop/saf_outage.test.mjs

# `make bench-saf`: backlog drain (issue 18): BENCH_SAF_MSGS (1,000,000)
# messages of 128 B queued at the edge during an outage, the time to land them
# in the cloud stream after the link returns, natsedge's forwarder against a
# nats-server leaf with a sourcing cloud stream (tools/saf_bench.sh; natsedge
# rebuilt under build/bench-saf with room for 512 MiB of file store; not part
# of make test; docs/store-and-forward.md).
.PHONY: bench-saf
bench-saf:
	bash tools/saf_bench.sh

# `make bench-route`: msgs/s across a route of a 2-node natsedge cluster against
# a 2-node nats-server cluster, measured in turns (tools/route_bench.sh; not
# part of make test; docs/performance.md).
.PHONY: bench-route
bench-route: $(NATSEDGE) bench-tool
	bash tools/route_bench.sh $(NATSEDGE)

# ---- boards section (mps2-an385 firmware) -----------------------------------
# `make BOARD=mps2-an385 [CONFIG=<profile>]` builds the bare-metal Cortex-M3
# firmware (profile tiny unless CONFIG says otherwise) with arm-none-eabi-gcc
# and newlib-nano (string functions only: nothing that allocates links).
# The linker script's regions are the profile's NE_BOARD_*_BUDGET_BYTES, and
# tools/footprint --check holds the broker (everything but lwIP) to
# NE_CORE_*_BUDGET_BYTES: either overflow fails the build.
#   make firmware        build/mps2-an385-<profile>/natsedge.elf (CONF=<file>: its configuration region)
#   make run-mps2        boots it in QEMU (user networking, 127.0.0.1:$(PORT) and $(HTTP_PORT) forwarded,
#                        and 127.0.0.1:1883 for CONFIG=tiny-mqtt)
#   make footprint       the per-module table of the firmware
MPS2_CONFIG := $(if $(filter default,$(CONFIG)),tiny,$(CONFIG))
MPS2_BUILD ?= build/mps2-an385-$(MPS2_CONFIG)
MPS2_CC := arm-none-eabi-gcc
MPS2_ARCH := -mcpu=cortex-m3 -mthumb
MPS2_PROFILE := '-DNE_CONFIG_PROFILE_HEADER="profiles/$(MPS2_CONFIG).h"'
MPS2_INC := -Iconfig -Isrc -Iport -I. -I$(MPS2_BUILD)/include -I$(LWIP_DIR)/src/include -Iport/lwip \
    -Iboard/mps2-an385
# TLS toward a hub on the firmware (profiles with NE_BOARD_TLS: tiny-js):
# port/mbedtls and mbedTLS cross-compiled with
# board/mps2-an385/mbedtls_board_config.h (no files, no clock of the day).
MPS2_TLS := $(filter tiny-js,$(MPS2_CONFIG))
MPS2_MBEDTLS_FLAGS := -I$(MBEDTLS_DIR)/include '-DMBEDTLS_CONFIG_FILE="mbedtls_board_config.h"'
# ed25519 (NKey signatures: a leaf remote's .creds) on the same profiles:
# libsodium 1.0.18's reference code, only the files a seed keypair and a
# detached signature and its verification need, from Debian's source
# package (tools/deps.sh; port/sodium supplies the utils they call).
SODIUM_DIR ?= third_party/libsodium/src/libsodium
SODIUM_SRC := $(addprefix $(SODIUM_DIR)/,crypto_sign/ed25519/ref10/keypair.c \
    crypto_sign/ed25519/ref10/sign.c crypto_sign/ed25519/ref10/open.c \
    crypto_core/ed25519/ref10/ed25519_ref10.c crypto_hash/sha512/cp/hash_sha512_cp.c \
    crypto_verify/sodium/verify.c)
SODIUM_PORT_SRC := port/sodium/ne_sodium_ed25519.c
SODIUM_STAMP := $(SODIUM_DIR)/crypto_sign/ed25519/ref10/sign.c
# CONFIGURED: the build is ours, not libsodium's configure (its headers warn
# otherwise); without HAVE_TI_MODE the field arithmetic is the 32-bit 25.5.
SODIUM_FLAGS := -DCONFIGURED=1 -DNATIVE_LITTLE_ENDIAN=1 -I$(SODIUM_DIR)/include \
    -I$(SODIUM_DIR)/include/sodium -I$(SODIUM_DIR)/include/sodium/private
MPS2_CFLAGS := -std=c11 -Os -g $(MPS2_ARCH) -ffunction-sections -fdata-sections --specs=nano.specs \
    $(MPS2_PROFILE) $(MPS2_INC) $(if $(MPS2_TLS),$(MPS2_MBEDTLS_FLAGS) -I$(SODIUM_DIR)/include)
# On 32-bit targets some range checks written for 64-bit size_t are always
# false; gcc's type-limits warning says so, harmlessly.
CROSS32_WARN := -Wno-type-limits
# newlib's uint32_t is `unsigned long`: "%u" with a uint32_t is the same
# 32-bit argument under the ARM EABI, but -Wformat objects. The formats are
# checked by the host and ARM Linux builds, where uint32_t is unsigned int.
MPS2_WARN := $(CROSS32_WARN) -Wno-format
MPS2_SRC := $(CORE_SRC) $(LWIP_PORT_SRC) $(if $(MPS2_TLS),$(TLS_SRC) $(SODIUM_PORT_SRC)) \
    $(sort $(wildcard board/mps2-an385/*.c))
MPS2_MBEDTLS_OBJ := $(if $(MPS2_TLS),$(patsubst %,$(MPS2_BUILD)/mbedtls/%.o,$(MBEDTLS_MODULES)))
MPS2_SODIUM_OBJ := $(if $(MPS2_TLS),$(patsubst $(SODIUM_DIR)/%.c,$(MPS2_BUILD)/sodium/%.o,$(SODIUM_SRC)))
MPS2_OBJ := $(patsubst %.c,$(MPS2_BUILD)/obj/%.o,$(MPS2_SRC))
MPS2_LWIP_OBJ = $(patsubst $(LWIP_DIR)/%.c,$(MPS2_BUILD)/lwip/%.o,$(LWIP_SRC))
MPS2_ELF := $(MPS2_BUILD)/natsedge.elf
CONF ?=
MPS2_CONF_STAMP := $(MPS2_BUILD)/conf.stamp
MPS2_CONF_TOOL := build/$(MPS2_CONFIG)/tools/conf_region
.PHONY: firmware run-mps2 footprint
ifeq ($(BOARD),mps2-an385)
.DEFAULT_GOAL := firmware
endif
firmware: $(MPS2_ELF)
# jsmn is header-only: the firmware takes Debian's header alone, not the
# host's include directory.
$(MPS2_BUILD)/include/jsmn.h: /usr/include/jsmn.h
	@mkdir -p $(dir $@)
	cp $< $@
$(MPS2_BUILD)/obj/%.o: %.c $(MPS2_BUILD)/include/jsmn.h | $(LWIP_STAMP)
	@mkdir -p $(dir $@)
	$(MPS2_CC) $(MPS2_CFLAGS) $(WARN) $(MPS2_WARN) -MMD -MP -c $< -o $@
$(MPS2_BUILD)/lwip/%.o: $(LWIP_DIR)/%.c board/mps2-an385/lwipopts.h | $(LWIP_STAMP)
	@mkdir -p $(dir $@)
	$(MPS2_CC) $(filter-out -std=c11,$(MPS2_CFLAGS)) -std=gnu99 -c $< -o $@
# Third-party code: its own warnings are not ours to fix, so no -Werror.
$(MPS2_BUILD)/mbedtls/%.o: $(MBEDTLS_DIR)/library/%.c config/mbedtls_config.h \
    board/mps2-an385/mbedtls_board_config.h | $(MBEDTLS_DIR)/include/mbedtls/ssl.h
	@mkdir -p $(dir $@)
	$(MPS2_CC) -std=c99 -Os -g $(MPS2_ARCH) -ffunction-sections -fdata-sections --specs=nano.specs \
	    -Iconfig -Iboard/mps2-an385 $(MPS2_MBEDTLS_FLAGS) -c $< -o $@
$(SODIUM_STAMP):
	@echo "libsodium's source not found in $(SODIUM_DIR): run 'make deps' (tools/deps.sh) or set SODIUM_DIR"; exit 1
$(MPS2_BUILD)/obj/port/sodium/%.o: | $(SODIUM_STAMP)
$(MPS2_BUILD)/sodium/%.o: $(SODIUM_DIR)/%.c | $(SODIUM_STAMP)
	@mkdir -p $(dir $@)
	$(MPS2_CC) -std=gnu99 -Os -g $(MPS2_ARCH) -ffunction-sections -fdata-sections --specs=nano.specs \
	    $(SODIUM_FLAGS) -c $< -o $@
$(MPS2_BUILD)/mps2.ld: board/mps2-an385/mps2.ld.S $(wildcard config/profiles/tiny*.h)
	@mkdir -p $(dir $@)
	$(MPS2_CC) -E -P -x c -Iconfig $(MPS2_PROFILE) $< -o $@
$(MPS2_ELF): $(MPS2_OBJ) $(MPS2_LWIP_OBJ) $(MPS2_MBEDTLS_OBJ) $(MPS2_SODIUM_OBJ) $(MPS2_BUILD)/mps2.ld tools/footprint \
    $(MPS2_CONF_STAMP)
	$(MPS2_CC) $(MPS2_ARCH) --specs=nano.specs -nostartfiles -Wl,--gc-sections \
	    -Wl,-Map=$(MPS2_BUILD)/natsedge.map -T $(MPS2_BUILD)/mps2.ld -o $@ $(MPS2_OBJ) $(MPS2_LWIP_OBJ) \
	    $(MPS2_MBEDTLS_OBJ) $(MPS2_SODIUM_OBJ)
	@if arm-none-eabi-nm $@ | grep -qE ' [Tt] (malloc|_malloc_r|free|_free_r|calloc|realloc)$$'; then \
	    echo "firmware: an allocator was linked in"; rm -f $@; exit 1; fi
	@bash tools/footprint --check $(MPS2_BUILD)/natsedge.map config/profiles/$(MPS2_CONFIG).h || { rm -f $@; exit 1; }
	$(if $(CONF),$(MAKE) --no-print-directory CONFIG=$(MPS2_CONFIG) SAN= BOARD= CONF= $(MPS2_CONF_TOOL) && \
	    $(MPS2_CONF_TOOL) write $@ $(CONF) || { rm -f $@; exit 1; })
footprint: $(MPS2_ELF)
	bash tools/footprint $(MPS2_BUILD)/natsedge.map config/profiles/$(MPS2_CONFIG).h
# The configuration region (board/mps2-an385/conf_region.h, docs/firmware.md):
# `make BOARD=mps2-an385 CONF=edge.conf` writes edge.conf into the image
# after the link, checked by tools/conf_region.c as the board reads it. The
# tool is built on the host with the firmware's profile (`make conf-tool`;
# `conf_region write <image> <file>` rewrites any image later). The stamp
# names the file written and its checksum and changes only when they do, so
# the image is rewritten exactly when CONF changes (and emptied without it).
.PHONY: conf-tool FORCE
FORCE:
$(MPS2_CONF_STAMP): FORCE
	@mkdir -p $(dir $@)
	@want="$(CONF) $$( [ -z "$(CONF)" ] || cksum < "$(CONF)")"; \
	if [ ! -e $@ ] || [ "$$(cat $@)" != "$$want" ]; then echo "$$want" > $@; fi
conf-tool:
	$(MAKE) --no-print-directory CONFIG=$(MPS2_CONFIG) SAN= BOARD= CONF= $(MPS2_CONF_TOOL)
CONF_TOOL := $(BUILD)/tools/conf_region
CONF_TOOL_SRC := tools/conf_region.c board/mps2-an385/board_conf.c
$(CONF_TOOL): $(CONF_TOOL_SRC) $(wildcard board/mps2-an385/*.h) $(BUILD)/libnecore.a $(BUILD)/libneposix.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iboard/mps2-an385 -o $@ $(CONF_TOOL_SRC) $(BUILD)/libnecore.a \
	    $(BUILD)/libneposix.a $(BUILD)/libnecore.a $(LDFLAGS_ALL) $(BOARD_LIBS)
# The gateway profile's table, from an ARM Linux (armhf) build of the natsedge
# binary linked with --gc-sections (shared libraries not counted).
FOOTPRINT_GATEWAY_BUILD := build/footprint-gateway-armhf
.PHONY: footprint-gateway
footprint-gateway:
	$(MAKE) CROSS=$(ARM_CROSS) CONFIG=gateway BUILD=$(FOOTPRINT_GATEWAY_BUILD) -j2 \
	    CFLAGS="-ffunction-sections -fdata-sections" \
	    LDFLAGS="-Wl,--gc-sections -Wl,-Map=$(abspath $(FOOTPRINT_GATEWAY_BUILD))/natsedge.map" all
	bash tools/footprint $(FOOTPRINT_GATEWAY_BUILD)/natsedge.map config/profiles/gateway.h
# PORT (4222) and HTTP_PORT (when given) on 127.0.0.1 go to the board's
# 4222 and 8222; with the tiny-mqtt and tiny-js profiles 127.0.0.1:1883 goes to its 1883.
comma := ,
MPS2_FWD := hostfwd=tcp:127.0.0.1:$(PORT)-:4222$(if $(HTTP_PORT),$(comma)hostfwd=tcp:127.0.0.1:$(HTTP_PORT)-:8222)
ifneq ($(filter tiny-mqtt tiny-js,$(MPS2_CONFIG)),)
MPS2_FWD := $(MPS2_FWD),hostfwd=tcp:127.0.0.1:1883-:1883
endif
run-mps2: $(MPS2_ELF)
	qemu-system-arm -machine mps2-an385 -nographic -kernel $(MPS2_ELF) -nic user,$(MPS2_FWD)
-include $(MPS2_OBJ:.o=.d)

# ---- install section ----------------------------------------------------------
# `make install [PREFIX=/usr/local] [DESTDIR=]`: the binary in $(SBINDIR), the
# default configuration in $(SYSCONFDIR)/natsedge (an existing one is kept),
# the systemd unit (its LimitNOFILE: NE_POSIX_MAX_FDS of the profile), the
# sysusers.d entry of its user, natsedge(8). INSTALL_BIN installs another
# binary (default: this variant's). `make deb`: those files as a Debian
# package in $(DEB_DIR) (dpkg-deb; dpkg-shlibdeps for Depends when there),
# whose maintainer scripts create the user natsedge (a static binary,
# INSTALL_BIN of STATIC=1, depends on no library). `make check-man`:
# natsedge(8) documents exactly the flags `natsedge --help` shows.
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR ?= $(PREFIX)/share/man
INSTALL_BIN ?= $(NATSEDGE)
# An expression of the profile's knobs (dist/limit_nofile.in), evaluated by
# the shell in the recipe once it is known to be only numbers.
LIMIT_NOFILE = $(shell $(CC) -E -P $(CFLAGS_BASE) -x c dist/limit_nofile.in | sed -n 's/^ne_limit_nofile //p')
.PHONY: install deb check-man
install: $(INSTALL_BIN)
	@case '$(LIMIT_NOFILE)' in ''|*[!0-9\ \(\)+*]*) \
	    echo "install: NE_POSIX_MAX_FDS is not a number: '$(LIMIT_NOFILE)'"; exit 1;; esac
	install -D -m 755 $(INSTALL_BIN) $(DESTDIR)$(SBINDIR)/natsedge
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/natsedge/natsedge.conf ]; then \
	    echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/natsedge/natsedge.conf"; \
	else install -D -m 644 dist/natsedge.conf $(DESTDIR)$(SYSCONFDIR)/natsedge/natsedge.conf; fi
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e "s|@LIMIT_NOFILE@|$$(( $(LIMIT_NOFILE) ))|g" dist/natsedge.service.in \
	    > $(DESTDIR)$(UNITDIR)/natsedge.service
	chmod 644 $(DESTDIR)$(UNITDIR)/natsedge.service
	install -D -m 644 dist/natsedge.sysusers $(DESTDIR)$(SYSUSERSDIR)/natsedge.conf
	install -D -m 644 dist/natsedge.8 $(DESTDIR)$(MANDIR)/man8/natsedge.8

DEB_VERSION ?= $(shell sed -n 's/^\#define NE_VERSION "\(.*\)"/\1/p' src/core/ne_version.h)
DEB_ARCH ?= $(shell dpkg --print-architecture)
DEB_DIR ?= build/deb
DEB_ROOT = $(DEB_DIR)/root
DEB_FILE = $(DEB_DIR)/natsedge_$(DEB_VERSION)_$(DEB_ARCH).deb
deb: $(INSTALL_BIN)
	rm -rf $(DEB_ROOT) $(DEB_DIR)/shlibs && mkdir -p $(DEB_ROOT)/DEBIAN $(DEB_DIR)/shlibs/debian
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr \
	    UNITDIR=/lib/systemd/system INSTALL_BIN=$(abspath $(INSTALL_BIN))
	$(CROSS)strip --strip-unneeded $(DEB_ROOT)/usr/sbin/natsedge
	gzip -9n $(DEB_ROOT)/usr/share/man/man8/natsedge.8
	install -m 644 dist/deb/conffiles $(DEB_ROOT)/DEBIAN/conffiles
	install -m 755 dist/deb/postinst dist/deb/prerm dist/deb/postrm $(DEB_ROOT)/DEBIAN/
	@touch $(DEB_DIR)/shlibs/debian/control; \
	libs=$$(cd $(DEB_DIR)/shlibs && dpkg-shlibdeps -O -e $(abspath $(DEB_ROOT))/usr/sbin/natsedge 2>/dev/null \
	    | sed -n 's/^shlibs:Depends=//p'); \
	depends="$${libs:-libc6, libsodium23}, adduser"; \
	if ! $(CROSS)readelf -d $(DEB_ROOT)/usr/sbin/natsedge | grep -q '(NEEDED)'; then \
	    depends="adduser"; fi; \
	size=$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1); \
	sed -e 's|@VERSION@|$(DEB_VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' -e "s|@DEPENDS@|$$depends|" \
	    -e "s|@INSTALLED_SIZE@|$$size|" dist/deb/control.in > $(DEB_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group --build $(DEB_ROOT) $(DEB_FILE)
	@echo "deb: $(DEB_FILE)"

check-man: $(INSTALL_BIN)
	bash tools/check-man.sh $(INSTALL_BIN) dist/natsedge.8

# ---- ARM Linux section --------------------------------------------------------
# `make unit-arm` (part of `make test`): the binary and every unit test built
# for 32-bit ARM Linux (ARM_CROSS), the tests run under qemu-arm.
# `make unit-aarch64`: the same for 64-bit ARM under qemu-aarch64.
ARM_CROSS ?= arm-linux-gnueabihf-
AARCH64_CROSS ?= aarch64-linux-gnu-
cross_units = $(patsubst build/$(VARIANT)/%,build/$(CONFIG)-$(patsubst %-,%,$(1))/%,$(UNIT_BIN))
.PHONY: unit-arm unit-aarch64
unit-arm:
	$(MAKE) CROSS=$(ARM_CROSS) -j2 all $(call cross_units,$(ARM_CROSS))
	$(MAKE) CROSS=$(ARM_CROSS) unit
unit-aarch64:
	$(MAKE) CROSS=$(AARCH64_CROSS) -j2 all $(call cross_units,$(AARCH64_CROSS))
	$(MAKE) CROSS=$(AARCH64_CROSS) unit

# The board's ed25519 (tests/unit/test_sodium_ed25519.c): port/sodium and
# libsodium's reference files, the ones the firmware compiles, built for the
# host (and under make unit-arm for 32-bit ARM, as the board's arithmetic).
SODIUMT_BUILD = $(BUILD)/sodium-unit
SODIUMT_OBJ = $(patsubst $(SODIUM_DIR)/%.c,$(SODIUMT_BUILD)/sodium/%.o,$(SODIUM_SRC)) \
    $(SODIUMT_BUILD)/obj/ne_sodium_ed25519.o
$(SODIUMT_BUILD)/sodium/%.o: $(SODIUM_DIR)/%.c | $(SODIUM_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu99 -O2 -g $(SANFLAGS) $(SODIUM_FLAGS) -c $< -o $@
$(SODIUMT_BUILD)/obj/ne_sodium_ed25519.o: $(SODIUM_PORT_SRC) | $(SODIUM_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I$(SODIUM_DIR)/include -MMD -MP -c $< -o $@
$(BUILD)/tests/test_sodium_ed25519: $(SODIUMT_OBJ)
$(BUILD)/tests/test_sodium_ed25519: LDFLAGS_ALL += $(SODIUMT_OBJ) $(BUILD)/libnecore.a $(BUILD)/libneposix.a
-include $(SODIUMT_BUILD)/obj/ne_sodium_ed25519.d
# make check's heap check covers the board's ed25519 too.
check: $(SODIUMT_OBJ)

# The lwIP port's unit test (tests/unit/test_lwip_port.c): lwIP built once
# more, with tests/unit/lwip/lwipopts.h (loopback interface), and the port.
LWIPT_BUILD = $(BUILD)/lwip-unit
LWIPT_INC := -I$(LWIP_DIR)/src/include -Iport/lwip -Itests/unit/lwip
LWIPT_LWIP_OBJ = $(patsubst $(LWIP_DIR)/%.c,$(LWIPT_BUILD)/lwip/%.o,$(LWIP_SRC))
LWIPT_PORT_OBJ = $(patsubst %.c,$(LWIPT_BUILD)/obj/%.o,$(LWIP_PORT_SRC))
$(LWIPT_BUILD)/obj/%.o: %.c | $(LWIP_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LWIPT_INC) -MMD -MP -c $< -o $@
$(LWIPT_BUILD)/lwip/%.o: $(LWIP_DIR)/%.c tests/unit/lwip/lwipopts.h | $(LWIP_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu99 -O2 -g $(SANFLAGS) -Iconfig -I. \
	    $(LWIP_PROFILE_FLAG) $(LWIPT_INC) -c $< -o $@
$(BUILD)/tests/test_lwip_port: $(LWIPT_PORT_OBJ) $(LWIPT_LWIP_OBJ)
$(BUILD)/tests/test_lwip_port: ALL_CFLAGS += $(LWIPT_INC)
$(BUILD)/tests/test_lwip_port: LDFLAGS_ALL += $(LWIPT_PORT_OBJ) $(LWIPT_LWIP_OBJ) $(BUILD)/libnecore.a \
    $(BUILD)/libneposix.a
-include $(LWIPT_PORT_OBJ:.o=.d)
