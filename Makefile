# rekor-sidekick: GNU make.  Every folder cmd/NAME becomes the program
# $(BUILD)/bin/NAME: from its .c files linked with common/libcommon.a, or,
# when it has no C files, from the shell script cmd/NAME/NAME.sh.

VERSION	= 0.1.0
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
BUILD	?= build

CC	?= cc
WARN	= -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
	  -Wmissing-prototypes -Wold-style-definition -Wwrite-strings -Wvla \
	  -Wno-format-nonliteral
CPPFLAGS += -D_GNU_SOURCE -DRK_VERSION='"$(VERSION)"' -Icommon
CFLAGS	?= -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
ALL_CFLAGS = -std=c99 $(CFLAGS) $(WARN) $(EXTRA_CFLAGS)
LDLIBS	= -lcurl -lcjson -lyaml -lssl -lcrypto -lpthread -lm
LDFLAGS	+= $(EXTRA_LDFLAGS)

GOBIN	:= $(shell go env GOBIN 2>/dev/null)
ifeq ($(GOBIN),)
GOBIN	:= $(shell go env GOPATH 2>/dev/null || echo $(HOME)/go)/bin
endif

COMMON_SRC = $(wildcard common/*.c)
COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
COMMON_HDR = $(wildcard common/*.h)
CMDS	= $(notdir $(wildcard cmd/*))
C_CMDS	= $(foreach c,$(CMDS),$(if $(wildcard cmd/$(c)/*.c),$(c)))
SH_CMDS	= $(filter-out $(C_CMDS),$(CMDS))
BINS	= $(CMDS:%=$(BUILD)/bin/%)
MAN1	= $(wildcard man/*.1)
MAN5	= $(wildcard man/*.5)

SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer
SANITIZER_LOGS = $(CURDIR)/build/asan/sanitizer-logs
TEST_PATH = $(CURDIR)/$(BUILD)/bin:$(GOBIN):$(PATH)
BATS	?= bats
TESTS	?= tests

.PHONY: all deps test asan check lint e2e demo bench install uninstall clean
.SUFFIXES:

all: $(BINS)

deps:
	sh scripts/deps.sh

$(BUILD)/%.o: %.c $(COMMON_HDR) $(wildcard cmd/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/common/libcommon.a: $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $(COMMON_OBJ)

define c_program
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/$(1)/*.c)) \
    $(BUILD)/common/libcommon.a
	@mkdir -p $(BUILD)/bin
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $$@ \
	    $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/$(1)/*.c)) \
	    $(BUILD)/common/libcommon.a $(LDLIBS)
endef
$(foreach c,$(C_CMDS),$(eval $(call c_program,$(c))))

define sh_program
$(BUILD)/bin/$(1): cmd/$(1)/$(1).sh
	@mkdir -p $(BUILD)/bin
	sed 's/@VERSION@/$(VERSION)/g' cmd/$(1)/$(1).sh > $$@.tmp
	chmod 755 $$@.tmp
	mv -f $$@.tmp $$@
endef
$(foreach c,$(SH_CMDS),$(eval $(call sh_program,$(c))))

# The bats suite against the programs in $(BUILD)/bin, with opa and the
# other Go-built tools from $(GOBIN).  TESTS=tests/10-rekor-tail.bats runs
# one file.
test: all
	PATH="$(TEST_PATH)" opa test etc/policies
	PATH="$(TEST_PATH)" REKOR_BUILD="$(CURDIR)/$(BUILD)" \
	    $(BATS) --timing $(TESTS)

# The end-to-end tests alone, against a real Rekor log that
# scripts/rekor-local.sh runs on this machine (`make deps` installs it).
e2e:
	$(MAKE) test TESTS=tests/95-e2e-rekor.bats

# A local Rekor log, a few signed entries and rekor-sidekick's alerts on
# them on the terminal; the log is stopped at the end.
demo: all
	PATH="$(TEST_PATH)" bash scripts/demo.bash

# The same suite with every C program built under AddressSanitizer and
# UndefinedBehaviorSanitizer.  Any report, leaks included, fails the run:
# the programs exit 86 and the reports are kept in build/asan.
asan:
	rm -rf $(SANITIZER_LOGS)
	mkdir -p $(SANITIZER_LOGS)
	ASAN_OPTIONS=detect_leaks=1:exitcode=86:log_path=$(SANITIZER_LOGS)/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=86:log_path=$(SANITIZER_LOGS)/ubsan \
	    $(MAKE) BUILD=build/asan CFLAGS="-O1 -g" \
	    EXTRA_CFLAGS="$(SANITIZE)" EXTRA_LDFLAGS="$(SANITIZE)" test
	@if [ -n "$$(ls -A $(SANITIZER_LOGS))" ]; then \
	    cat $(SANITIZER_LOGS)/*; \
	    echo "sanitizer reports in $(SANITIZER_LOGS)" >&2; exit 1; fi

lint:
	mandoc -T lint -W warning $(MAN1) $(MAN5)
	shellcheck -s sh $(wildcard cmd/*/*.sh) scripts/*.sh

check: lint test

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5
	cp -f $(BINS) $(DESTDIR)$(BINDIR)/
	$(if $(MAN1),cp -f $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(MAN5),cp -f $(MAN5) $(DESTDIR)$(MANDIR)/man5/)
	ln -sf rekor-sidekick.1 \
	    $(DESTDIR)$(MANDIR)/man1/rekor-sidekick-config.1
	@# rekor-policy runs opa; services and cron have a short PATH.
	if [ -x "$(GOBIN)/opa" ]; then cp -f "$(GOBIN)/opa" \
	    $(DESTDIR)$(BINDIR)/; fi

uninstall:
	rm -f $(CMDS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(MAN1:man/%=$(DESTDIR)$(MANDIR)/man1/%)
	rm -f $(DESTDIR)$(MANDIR)/man1/rekor-sidekick-config.1
	rm -f $(MAN5:man/%=$(DESTDIR)$(MANDIR)/man5/%)

clean:
	rm -rf build
