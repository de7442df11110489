# latency_cdf.gp — empirical CDF of a latency (total time or time to first token) per model.
# gnuplot -c latency_cdf.gp NMODELS OUTBASE DATAFILE KIND, KIND "total" or "ttft". DATAFILE: one
# block per model (first line the quoted model name), rows `seconds cumulative_fraction`, sorted.
n = int(ARG1)
set terminal svg size 800,450 dynamic noenhanced font "sans,11" background "white"
set output ARG2.".svg"
if (ARG4 eq "ttft") { set title "Time to first token, CDF"; set xlabel "time to first token (s)" } \
else { set title "Total latency per request, CDF"; set xlabel "total time (s)" }
set ylabel "fraction of requests"
set yrange [0:1.02]
set grid
set key outside right top noenhanced
plot for [i=0:n-1] ARG3 index i using 1:2 with steps linewidth 2 linecolor (i+1) title columnheader(1)
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 800,450 noenhanced font "sans,10" background "white"
    set output ARG2.".png"
    replot
}
