# acc_cost.gp — overall accuracy vs cost per million tokens, one point per model, Pareto front.
# gnuplot -c acc_cost.gp NMODELS OUTBASE LOGX. Reads acc_cost.dat: one block per model (first line
# the quoted model name), row `cost_per_m accuracy_pct ci_lo_pct ci_hi_pct`; pareto.dat: the
# models on the front (no other model is both cheaper or equal and more accurate), by cost;
# they are ringed and joined.
n = int(ARG1)
set terminal svg size 800,500 dynamic noenhanced font "sans,11" background "white"
set output ARG2.".svg"
set title "Accuracy vs cost per million tokens (Pareto front ringed)"
set xlabel "cost per million tokens (USD)"
set ylabel "accuracy (%)"
set yrange [0:105]
if (int(ARG3)) { set logscale x } else { set xrange [0:*] }
set offsets graph 0.08, graph 0.08, 0, 0
set grid
set key outside right top noenhanced
plot "pareto.dat" using 1:2 with linespoints dashtype 2 pointtype 6 pointsize 2.6 linecolor rgb "gray40" title "Pareto front", \
     for [i=0:n-1] "acc_cost.dat" index i using 1:2:3:4 with yerrorbars pointtype 7 pointsize 1.3 linecolor (i+1) title columnheader(1)
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 800,500 noenhanced font "sans,10" background "white"
    set output ARG2.".png"
    replot
}
