/* check.h - `vodupd check`: do the database and the object files agree? */
#ifndef VODUPD_CHECK_H
#define VODUPD_CHECK_H

/* The subcommand (argv[0] is "check"). Exit status: 0 clean, 1 findings, 2 usage or the
 * data directory cannot be read. */
int vodupd_check(int argc, char **argv);

#endif
