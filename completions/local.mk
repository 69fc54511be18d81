# Bash completion: one script, installed as "orionstor" plus a link named
# after every other tool built (bash-completion loads by command name).
EXTRA_DIST += completions/orionstor.bash
if INSTALL_BASH_COMPLETION
bashcompletiondir = $(BASH_COMPLETION_DIR)

install-data-local: install-bash-completion
install-bash-completion:
	$(MKDIR_P) '$(DESTDIR)$(bashcompletiondir)'
	$(INSTALL_DATA) '$(srcdir)/completions/orionstor.bash' '$(DESTDIR)$(bashcompletiondir)/orionstor'
	@for p in $(bin_PROGRAMS); do t=$${p##*/}; t=$${t%$(EXEEXT)}; \
	  [ "$$t" = orionstor ] && continue; \
	  echo "  LN $(DESTDIR)$(bashcompletiondir)/$$t"; \
	  (cd '$(DESTDIR)$(bashcompletiondir)' && rm -f "$$t" && $(LN_S) orionstor "$$t") || exit 1; \
	done

uninstall-local: uninstall-bash-completion
uninstall-bash-completion:
	@for p in $(bin_PROGRAMS); do t=$${p##*/}; t=$${t%$(EXEEXT)}; \
	  rm -f '$(DESTDIR)$(bashcompletiondir)/'"$$t"; \
	done
endif
.PHONY: install-bash-completion uninstall-bash-completion

# The completion of options, commands and specs, in bash.
TESTS += tests/tools/test-completion.sh
EXTRA_DIST += tests/tools/test-completion.sh
