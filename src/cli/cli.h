/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli — the `octo` command line: subcommand dispatch, --help texts and exit
 * codes. It sits on top of every other module and holds no serving logic.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 not built yet.
 */
#ifndef OCTO_CLI_H
#define OCTO_CLI_H

#define OCTO_EXIT_OK 0
#define OCTO_EXIT_FAIL 1
#define OCTO_EXIT_USAGE 2
#define OCTO_EXIT_UNAVAILABLE 3

/* Runs the program; returns the process exit code. */
int octo_cli_main(int argc, char **argv);

#endif /* OCTO_CLI_H */
