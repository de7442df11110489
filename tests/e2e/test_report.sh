#!/bin/sh
# evalh report on the hand-made runs of tests/fixtures/runs, and on two real runs against the
# fake server when the arith pack has been built: files exist, numbers from summary.json, HTML
# well-formed (xmllint), charts valid SVG/PNG, no live <script> from model names or outputs; then
# two real runs of the built-in tiny-arith at two temperatures; the pages open in headless Chromium
# and the screenshots show the charts (skipped with a message without chromium or python3-pil).
. "$(dirname "$0")/lib.sh"
R="$ROOT/tests/fixtures/runs"

"$EVALH" report "$R/report-a" "$R/report-b" -o "$TMP/rep" 2>"$TMP/rep.err"
check "report exits 0" [ $? -eq 0 ]
check "report.md and report.html written" [ -s "$TMP/rep/report.md" -a -s "$TMP/rep/report.html" ]
check "markdown has report-a arith accuracy and CI from summary.json" \
	grep -q "| alpha-r1 | 10 | 80.0% \[49.0, 94.3\] |" "$TMP/rep/report.md"
check "markdown has report-b cost per M tokens (52.0661)" grep -q "| 52.07 |" "$TMP/rep/report.md"
check "no live <script> in markdown" sh -c "! grep -qi '<script' '$TMP/rep/report.md'"
check "no live <script> in html" sh -c "! grep -qi '<script' '$TMP/rep/report.html'"
check "sample output escaped in html" grep -q "I think &lt;script&gt;alert" "$TMP/rep/report.html"
if command -v xmllint >/dev/null 2>&1; then
	check "html is well-formed" xmllint --noout "$TMP/rep/report.html"
else
	echo "skip - xmllint missing (Debian libxml2-utils)"
fi
if command -v gnuplot >/dev/null 2>&1; then
	for c in acc_task acc_cost latency_total latency_ttft tokens_out tokens_reasoning acc_reasoning; do
		check "$c.svg is an SVG of sensible size" sh -c "[ \$(wc -c <'$TMP/rep/$c.svg') -gt 2000 ] && grep -q '<svg' '$TMP/rep/$c.svg'"
		if command -v xmllint >/dev/null 2>&1; then
			check "$c.svg is well-formed" xmllint --noout "$TMP/rep/$c.svg"
		fi
		if [ -f "$TMP/rep/$c.png" ]; then
			check "$c.png is a PNG" sh -c "head -c 8 '$TMP/rep/$c.png' | od -An -c | grep -q 'P   N   G'"
		fi
	done
	check "charts inlined in html" [ "$(grep -o '<svg' "$TMP/rep/report.html" | wc -l)" -eq 7 ]
else
	echo "skip - gnuplot missing: charts not checked"
fi

# gnuplot missing: the Markdown is still written, with a note.
EVALH_GNUPLOT=/nonexistent/gnuplot "$EVALH" report "$R/report-a" -o "$TMP/nognu" 2>"$TMP/nognu.err"
check "without gnuplot: exit 0" [ $? -eq 0 ]
check "without gnuplot: note in markdown" grep -q "gnuplot could not be run" "$TMP/nognu/report.md"

"$EVALH" report "$TMP/none" -o "$TMP/x" 2>/dev/null
check "missing run: exit 2" [ $? -eq 2 ]

# Real runs: the fake OpenAI server at two behaviours, then one report over both.
PACK="$ROOT/build/packs/arith.tar.gz"
if [ -f "$PACK" ]; then
	start_server
	"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --limit 20 --out "$TMP/good" --quiet
	"$EVALH" run --model "openai:scenario:wrong@$BASE" --tasks "$PACK" --limit 20 --out "$TMP/wrong" --quiet
	"$EVALH" report "$TMP/good" "$TMP/wrong" -o "$TMP/real" 2>"$TMP/real.err"
	check "report over two real runs exits 0" [ $? -eq 0 ]
	check "real report has both models" sh -c "grep -q 'openai:good' '$TMP/real/report.md' && grep -q 'scenario:wrong' '$TMP/real/report.md'"
	check "real report has 100.0% for the good server" grep -q "100.0% \[" "$TMP/real/report.md"
	if command -v xmllint >/dev/null 2>&1; then
		check "real html is well-formed" xmllint --noout "$TMP/real/report.html"
	fi
	"$EVALH" gate --baseline "$TMP/good" --candidate "$TMP/wrong" >"$TMP/real-gate.md" 2>&1
	check "gate good -> wrong: regression, exit 1" [ $? -eq 1 ]
else
	echo "skip - $PACK not built: real-run report not checked"
fi

# Two real runs of the built-in tiny-arith model at two temperatures (greedy and 2.0), one report:
# runs of one model are told apart by their folder; numbers come from each run's summary.json.
if [ -f "$PACK" ]; then
	"$EVALH" run --model tiny-arith --tasks arith --limit 12 --concurrency 2 --temperature 0 --out "$TMP/t0" --quiet
	check "tiny-arith at temperature 0 exits 0" [ $? -eq 0 ]
	"$EVALH" run --model tiny-arith --tasks arith --limit 12 --concurrency 2 --temperature 2 --out "$TMP/t2" --quiet
	check "tiny-arith at temperature 2 exits 0" [ $? -eq 0 ]
	"$EVALH" report "$TMP/t0" "$TMP/t2" -o "$TMP/temps" 2>"$TMP/temps.err"
	check "report over the two temperatures exits 0" [ $? -eq 0 ]
	check "both runs in the markdown, each with its accuracy, CI and temperature" python3 - "$TMP" <<'PY'
import json, re, sys
t = sys.argv[1]
md = open(t + "/temps/report.md").read()
ok = True
for run, temp in (("t0", 0), ("t2", 2)):
    o = json.load(open("%s/%s/summary.json" % (t, run)))["overall"]
    row = "| tiny-arith (%s) | 12 | %.1f%% [%.1f, %.1f] |" % (run, 100 * o["accuracy"], 100 * o["ci95"][0], 100 * o["ci95"][1])
    print("  " + row)
    ok = ok and row in md
    ok = ok and json.load(open("%s/%s/run.json" % (t, run)))["options"]["temperature"] == temp
    ok = ok and re.search(r"\| tiny-arith \(%s\) \|[^\n]*\| %s \|" % (run, temp), md) is not None
sys.exit(0 if ok else 1)
PY
	if command -v gnuplot >/dev/null 2>&1; then
		for c in acc_task acc_cost latency_total latency_ttft tokens_out tokens_reasoning acc_reasoning; do
			check "temps: $c.svg is an SVG of sensible size naming both runs" sh -c \
				"[ \$(wc -c <'$TMP/temps/$c.svg') -gt 2000 ] && grep -q 'tiny-arith (t0)' '$TMP/temps/$c.svg' && grep -q 'tiny-arith (t2)' '$TMP/temps/$c.svg'"
			if command -v xmllint >/dev/null 2>&1; then
				check "temps: $c.svg is well-formed" xmllint --noout "$TMP/temps/$c.svg"
			fi
			check "temps: $c.png is a PNG" sh -c "head -c 8 '$TMP/temps/$c.png' | od -An -c | grep -q 'P   N   G'"
		done
	fi
fi

# The page in a real browser: headless Chromium (Debian's chromium) screenshots it, and the
# screenshot must show the charts' series colours; the same page with its charts cut out must not.
CHROME=$(command -v chromium || command -v chromium-browser || true)
PYPIL=""
for py in python3 /usr/bin/python3; do
	"$py" -c "import PIL" 2>/dev/null && { PYPIL=$py; break; }
done
shot() { # shot HTML PNG
	timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$TMP/chrome" \
		--window-size=1200,3000 --screenshot="$2" "file://$1" >/dev/null 2>&1
}
if [ -z "$CHROME" ]; then
	echo "skip - chromium missing (Debian package chromium): the page was not opened in a browser"
elif [ -z "$PYPIL" ]; then
	echo "skip - Pillow missing (Debian package python3-pil): the screenshot was not read"
elif ! command -v gnuplot >/dev/null 2>&1; then
	echo "skip - gnuplot missing: no charts to see in the browser"
else
	for rep in rep temps; do
		[ -f "$TMP/$rep/report.html" ] || continue
		shot "$TMP/$rep/report.html" "$TMP/$rep-shot.png"
		check "chromium screenshot of the $rep report shows charts in two series colours" \
			"$PYPIL" "$ROOT/tests/e2e/shot_colors.py" "$TMP/$rep-shot.png" 5000 2
	done
	"$PYPIL" "$ROOT/tests/e2e/shot_colors.py" --strip-svg "$TMP/rep/report.html" "$TMP/rep/nocharts.html"
	shot "$TMP/rep/nocharts.html" "$TMP/nocharts-shot.png"
	check "control: the same page without its charts shows no colour" \
		"$PYPIL" "$ROOT/tests/e2e/shot_colors.py" "$TMP/nocharts-shot.png" --max 500
fi
finish
