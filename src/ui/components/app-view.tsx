/** One application: its versions, live charts, processes, and the selected process. */
import { useEffect, useMemo, useState } from "preact/hooks";
import type { AppInfo, ProcessInfo, ProcessListInfo } from "../../protocol/api.js";
import { api } from "../api.js";
import { usePoll } from "../hooks.js";
import { addSample, series, toSample, type Sample } from "../rates.js";
import { ErrorLine } from "./action.js";
import { Chart } from "./chart.js";
import { ProcessView } from "./process-view.js";
import { CreateForm, ProcessTable } from "./processes.js";

const allOf = (list: ProcessListInfo | undefined): ProcessInfo[] =>
  list ? [...list.active, ...list.swapped, ...list.failed] : [];

function Versions({ app }: { app: AppInfo }) {
  return (
    <ul class="versions">
      {[...app.versions].reverse().map((v) => (
        <li key={v.version}>
          v{v.version}
          {v.version === app.version ? " (current)" : ""}: {v.functions.join(", ")}{" "}
          <span class="muted">{new Date(v.deployedAt).toLocaleString()}</span>
          {v.rollbackOf !== undefined ? ` rollback of v${v.rollbackOf}` : ""}
        </li>
      ))}
    </ul>
  );
}

/** The metrics reads of the last minutes, for the rates and the charts. */
function useSamples(app: string) {
  const metrics = usePoll(() => api.metrics(app), app);
  const [samples, setSamples] = useState<Sample[]>([]);
  useEffect(() => setSamples([]), [app]);
  useEffect(() => {
    const data = metrics.data;
    if (data) setSamples((before) => addSample(before, toSample(data)));
  }, [metrics.data]);
  return { metrics, samples };
}

export function AppView({ app, process }: { app: AppInfo; process: string | undefined }) {
  const list = usePoll(() => api.processes(app.name), app.name);
  const { metrics, samples } = useSamples(app.name);
  const [times, rates, latencies] = useMemo(() => series(samples), [samples]);
  const processes = allOf(list.data);
  const selected = processes.find((info) => info.name === process);
  return (
    <section>
      <h2>{app.name}</h2>
      <Versions app={app} />
      <div class="charts">
        <Chart title="Invocations per second" unit="calls/s" times={times} values={rates} />
        <Chart title="Mean latency" unit="ms" times={times} values={latencies} />
      </div>
      <h3>Processes</h3>
      <ErrorLine error={list.error ?? metrics.error} />
      <ProcessTable app={app.name} processes={processes} metrics={metrics.data} samples={samples} />
      <CreateForm app={app.name} created={list.refresh} />
      {process !== undefined && (
        <ProcessView app={app} name={process} info={selected} changed={list.refresh} />
      )}
    </section>
  );
}
