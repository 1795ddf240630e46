/** The processes of an application: status, resources, version, state, path, live call rate. */
import { useState } from "preact/hooks";
import type { AppMetricsSummary, ProcessInfo } from "../../protocol/api.js";
import { api } from "../api.js";
import { routeHref } from "../hooks.js";
import { recentRate, type Sample } from "../rates.js";
import { ErrorLine } from "./action.js";

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return "—";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Active processes report their state size; swapped ones have it in their record. */
function stateSize(info: ProcessInfo, metrics: AppMetricsSummary | undefined): number | undefined {
  if (info.status === "swapped") return info.stateSize;
  return metrics?.processes.find((row) => row.process === info.name)?.stateBytes;
}

interface TableProps {
  app: string;
  processes: ProcessInfo[];
  metrics: AppMetricsSummary | undefined;
  samples: readonly Sample[];
}

export function ProcessTable({ app, processes, metrics, samples }: TableProps) {
  if (processes.length === 0) return <p>No processes yet.</p>;
  return (
    <table class="processes">
      <thead>
        <tr>
          {["process", "status", "vcpus", "memory", "version", "state", "path", "calls/s"].map(
            (h) => (
              <th key={h}>{h}</th>
            ),
          )}
        </tr>
      </thead>
      <tbody>
        {processes.map((info) => (
          <tr key={info.name} data-process={info.name}>
            <td>
              <a href={routeHref({ app, process: info.name })}>{info.name}</a>
            </td>
            <td class={`status status-${info.status}`}>
              {info.status}
              {info.swapReason === "idle" ? " (idle)" : ""}
            </td>
            <td>{info.resources.vcpus}</td>
            <td>{info.resources.memory} MiB</td>
            <td>{info.version ?? "—"}</td>
            <td>{formatBytes(stateSize(info, metrics))}</td>
            <td>{info.connection ? (info.connection.path ?? "direct") : "—"}</td>
            <td>{recentRate(samples, info.name).toFixed(1)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Creates a process with the application's defaults unless vcpus or memory are given. */
export function CreateForm({ app, created }: { app: string; created: () => void }) {
  const [name, setName] = useState("");
  const [vcpus, setVcpus] = useState("");
  const [memory, setMemory] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const submit = (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    const body = {
      ...(vcpus ? { vcpus: Number(vcpus) } : {}),
      ...(memory ? { memory: Number(memory) } : {}),
    };
    api
      .create(app, name.trim(), body)
      .then(() => {
        setName("");
        created();
      }, setError)
      .finally(() => setBusy(false));
  };
  return (
    <form class="create" onSubmit={submit} aria-label="create process">
      <label>
        New process <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>{" "}
      <label>
        vcpus <input class="short" value={vcpus} onInput={(e) => setVcpus(e.currentTarget.value)} />
      </label>{" "}
      <label>
        memory MiB{" "}
        <input class="short" value={memory} onInput={(e) => setMemory(e.currentTarget.value)} />
      </label>{" "}
      <button type="submit" disabled={busy || name.trim() === ""}>
        {busy ? "Creating…" : "Create"}
      </button>
      <ErrorLine error={error} />
    </form>
  );
}
