/* cmd_sandbox.h — `evalh sandbox run` (one program in the sandbox, its outcome as JSON) and
 * `evalh doctor` (the sandbox protections and toolchains this host offers). */
#ifndef EVH_CMD_SANDBOX_H
#define EVH_CMD_SANDBOX_H

/* argv[0] is the subcommand name ("sandbox" / "doctor"); returns an exit code of cli.h:
 * sandbox run: 0 the program exited 0, 1 any other verdict, 2 usage, 3 the sandbox itself failed
 * (verdict "sandbox_error": try again, never the program's fault);
 * doctor: 0 Python programs run in the sandbox here, 1 they do not. */
int evh_cmd_sandbox(int argc, char **argv);
int evh_cmd_doctor(int argc, char **argv);

#endif
