/** A uPlot line chart of the last minutes, updated in place as samples arrive. */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { WINDOW_MS } from "../rates.js";

interface ChartProps {
  title: string;
  unit: string;
  times: number[];
  values: (number | null)[];
}

const WIDTH = 420;
const HEIGHT = 160;

/** The x axis always spans the window up to now (seconds), however few samples there are. */
function lastMinutes(): uPlot.Range.MinMax {
  const end = Date.now() / 1000;
  return [end - WINDOW_MS / 1000, end];
}

/** Rates and latencies start at zero, so a small wobble does not look like a cliff. */
function fromZero(_plot: uPlot, _min: number | null, max: number | null): uPlot.Range.MinMax {
  return [0, max !== null && max > 0 ? max * 1.1 : 1];
}

function options(title: string, unit: string): uPlot.Options {
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    legend: { show: false },
    scales: { x: { time: true, range: lastMinutes }, y: { range: fromZero } },
    series: [{}, { label: unit, stroke: "#2563eb", width: 2, spanGaps: false }],
    axes: [{}, { label: unit, size: 50 }],
  };
}

export function Chart({ title, unit, times, values }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!box.current) return;
    plot.current = new uPlot(options(title, unit), [[], []], box.current);
    return () => plot.current?.destroy();
  }, [title, unit]);
  useEffect(() => {
    plot.current?.setData([times, values]);
  }, [times, values]);
  return <div class="chart" ref={box} aria-label={title} />;
}
