# acc_reasoning.gp — accuracy against reasoning tokens used: each model's samples are cut into
# bins of equal count by reasoning length; a point is the bin's mean length and its accuracy.
# gnuplot -c acc_reasoning.gp NMODELS OUTBASE. Reads acc_reasoning.dat: one block per model
# (first line the quoted model name), rows `mean_reasoning_tokens accuracy_pct samples`.
n = int(ARG1)
set terminal svg size 800,450 dynamic noenhanced font "sans,11" background "white"
set output ARG2.".svg"
set title "Accuracy vs reasoning tokens (equal-count bins)"
set xlabel "reasoning tokens per sample (bin mean)"
set ylabel "accuracy (%)"
set yrange [0:105]
set offsets graph 0.05, graph 0.05, 0, 0
set grid
set key outside right top noenhanced
plot for [i=0:n-1] "acc_reasoning.dat" index i using 1:2 with linespoints linewidth 2 pointtype 7 linecolor (i+1) title columnheader(1)
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 800,450 noenhanced font "sans,10" background "white"
    set output ARG2.".png"
    replot
}
