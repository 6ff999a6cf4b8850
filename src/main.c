/* SPDX-License-Identifier: Apache-2.0 */
/* main — the octo binary: hands the command line to the CLI module. */
#include "cli/cli.h"

int main(int argc, char **argv) { return octo_cli_main(argc, argv); }
