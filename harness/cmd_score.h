/* cmd_score.h — the grader's own commands: `evalh score` re-scores a finished run with the current
 * scorers (graders change, model outputs stay) and `evalh judge` scores (gold, pred) pairs from
 * stdin, for users debugging a grader and for scripts. Formats: results/README.md. */
#ifndef EVH_CMD_SCORE_H
#define EVH_CMD_SCORE_H

/* evalh score RUN_DIR [-o NEW_DIR] [--quiet]
 * Re-scores every scored line of RUN_DIR/samples.jsonl with the scorer and options of the task's
 * pack (the path recorded in run.json, else the pack of that name; else the scorer name run.json
 * recorded, with default options and no choices). The gold answer is the record's "gold". Lines in
 * error stay as they are. Writes samples.jsonl, summary.json and run.json (with "rescored") to
 * NEW_DIR, or in place (each file replaced atomically), and prints on stdout the accuracy per task
 * before and after and a Markdown table of the samples whose verdict changed.
 * argv[0] is "score". Exit 0; 1 when some lines could not be scored (their old verdict is kept,
 * each named on stderr by file and line); 2 on bad arguments or unreadable input. */
int evh_cmd_score(int argc, char **argv);

/* evalh judge --scorer math|mcq|exact|numeric|regex [--options JSON]
 * Reads JSON lines {"gold": ..., "pred": ...} (optional "choices": [...], "question", "reasoning",
 * "tests", "id") on stdin; "pred" is a model response, searched like one. Writes one JSON line per
 * non-blank input line, flushed: {"id"?, "verdict", "correct", "extracted", "rule", "detail",
 * "error"} ("error": {"code", "message"} naming the input line, verdict null, when that line could
 * not be scored). argv[0] is "judge". Exit 0; 1 when some line failed; 2 on bad arguments. */
int evh_cmd_judge(int argc, char **argv);

#endif
