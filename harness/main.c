/* main.c — the evalh command line: dispatches to the subcommands (harness/cmd_*.c, report, gate)
 * and returns their exit code. Nothing else calls exit(). */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "harness/cli.h"
#include "harness/cmd_sandbox.h"
#include "harness/cmd_score.h"
#include "harness/diff.h"
#include "harness/gate.h"
#include "harness/merge.h"
#include "harness/report.h"
#include "harness/serve.h"

static const char usage_text[] =
	"usage: evalh <command> [options]\n"
	"\n"
	"commands:\n"
	"  run --model M --tasks T[,T...]   evaluate a model on task packs\n"
	"      [--samples k] [--temperature t] [--top-p p] [--max-tokens n] [--concurrency c]\n"
	"      [--limit n] [--seed s] [--out DIR] [--resume] [--quiet] [--no-stream]\n"
	"      [--timeout SEC] [--max-attempts n] [--models FILE] [--system TEXT]\n"
	"      [--preset r1|greedy] [--max-concurrency n] [--max-cost USD] [--max-time 90s|30m|1h30m]\n"
	"      [--dry-run] [--price IN/OUT] [--subsample-seed s] [--reasoning-effort minimal|low|medium|high|max]\n"
	"      [--reasoning-budget n] [--shard I/N] [--sandbox-workers n]\n"
	"      [--tp N --ep M --comm cpu|nccl]   split an engine model over ranks\n"
	"  list models|tasks|presets [--models FILE]\n"
	"  pack build DIR -o ARCHIVE | inspect ARCHIVE | validate ARCHIVE... | gen-arith -o DIR [--seed s] [--n n]\n"
	"  pack import FORMAT FILE... -o ARCHIVE | fetch NAME [-o ARCHIVE]   public benchmarks into packs\n"
	"  tokenize PATH [--decode]         text on stdin -> ids as JSON (or back); PATH a model folder or tokenizer.json\n"
	"  generate --model M (--prompt TEXT | --chat TEXT) [--max-tokens n] [--temperature t] [--seed s]\n"
	"      [--stop STR] [--json]        run the built-in engine once\n"
	"  serve --model engine:PATH|NAME [--host A] [--port P] [--api-key-env NAME] [--threads n]\n"
	"      [--parallel n] [--max-queue n] [--max-body BYTES]   the engine as an OpenAI-compatible server\n"
	"  report RUN_DIR... -o OUT_DIR     Markdown + HTML report with gnuplot charts\n"
	"  sandbox run --lang python|c FILE [--stdin F] [--timeout S] [--memory MB]   one program, outcome as JSON\n"
	"  doctor                           sandbox protections and toolchains on this host\n"
	"  score RUN_DIR [-o NEW_DIR] [--quiet]   re-score a run's samples.jsonl with the current scorers\n"
	"  judge --scorer math|mcq|exact|numeric|regex [--options JSON]   score {\"gold\",\"pred\"} JSON lines from stdin\n"
	"  diff RUN_A RUN_B                 items whose verdict flipped, regressions first\n"
	"  merge RUN_DIR... -o OUT_DIR      join the folders of run --shard I/N into one run\n"
	"  gate --baseline RUN --candidate RUN [--alpha a] [--max-drop pts]\n"
	"  version\n"
	"\n"
	"models: a name from the registry (evalh list models), engine:PATH, openai:MODEL@BASE_URL or\n"
	"        anthropic:MODEL[@BASE_URL]\n"
	"environment: EVALH_MODELS (models.json), EVALH_PACKS (pack folders), EVALH_HOME (data folder)\n";

int main(int argc, char **argv)
{
	/* API keys live in this process's memory: no core file may carry them, and no same-user
	 * process may read them through ptrace or /proc/PID/mem. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? EVH_EXIT_USAGE : EVH_EXIT_OK;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return evh_cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "list") == 0)
		return evh_cmd_list(argc - 1, argv + 1);
	if (strcmp(cmd, "pack") == 0)
		return evh_cmd_pack(argc - 1, argv + 1);
	if (strcmp(cmd, "tokenize") == 0)
		return evh_cmd_tokenize(argc - 1, argv + 1);
	if (strcmp(cmd, "generate") == 0)
		return evh_cmd_generate(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return evh_serve_main(argc - 1, argv + 1);
	if (strcmp(cmd, "sandbox") == 0)
		return evh_cmd_sandbox(argc - 1, argv + 1);
	if (strcmp(cmd, "doctor") == 0)
		return evh_cmd_doctor(argc - 1, argv + 1);
	if (strcmp(cmd, "score") == 0)
		return evh_cmd_score(argc - 1, argv + 1);
	if (strcmp(cmd, "judge") == 0)
		return evh_cmd_judge(argc - 1, argv + 1);
	if (strcmp(cmd, "diff") == 0)
		return evh_diff_main(argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return evh_report_main(argc - 1, argv + 1);
	if (strcmp(cmd, "merge") == 0)
		return evh_merge_main(argc - 1, argv + 1);
	if (strcmp(cmd, "gate") == 0)
		return evh_gate_main(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("evalh %s (%s)\n", EVALH_VERSION, evh_cli_git_revision());
		return EVH_EXIT_OK;
	}
	fprintf(stderr, "evalh: unknown command \"%s\"\n%s", cmd, usage_text);
	return EVH_EXIT_USAGE;
}
