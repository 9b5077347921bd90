/* backends.c - `unweight backends`: the backends this build contains, and whether each finds a
 * usable device on this machine now. */
#include <stdio.h>

#include "cli.h"

int uw_cli_cmd_backends(int argc, char **argv) {
    uw_cli_opts o;
    int rc = uw_cli_parse_opts(argc, argv, 2, "backends", 0, &o);
    if (rc >= 0) return rc;
    if ((rc = uw_cli_need_pos(&o, 0, "backends", "no arguments")) >= 0) return rc;
    /* what this binary was built with, then what each of those finds on this machine now */
    printf("built:");
    for (size_t i = 0; i < uw_backend_count(); i++) printf(" %s", uw_backend_name(i));
    printf("\nfound:\n");
    for (size_t i = 0; i < uw_backend_count(); i++) {
        const char *n = uw_backend_name(i);
        uw_status s = uw_backend_probe(n);
        if (s == UW_OK) printf("%-8s ok\n", n);
        else printf("%-8s unavailable (%s%s%s)\n", n, uw_status_name(s), *uw_last_error() ? ": " : "", uw_last_error());
    }
    return EX_OK;
}
