import type { Rollout, RolloutSpec } from "../api/rollout.ts";

export type Webhook = NonNullable<RolloutSpec["webhooks"]>[number];

/** The JSON body every webhook receives. */
export function webhookPayload(type: Webhook["type"], rollout: Rollout) {
  const status = rollout.status ?? {};
  return {
    type,
    rollout: { name: rollout.metadata.name, namespace: rollout.metadata.namespace ?? "default" },
    phase: status.phase ?? "Idle",
    revision: status.revision,
    stableRevision: status.stableRevision,
    step: status.step,
    weights: status.weights,
    message: status.message,
    analysis: status.analysis ?? [],
  };
}

/**
 * Calls one webhook: POST of the payload, `timeout` per attempt, `retries` more attempts on a network
 * error or a 5xx. A 2xx answer approves; a 4xx, or no answer after the retries, rejects.
 */
export async function callWebhook(
  hook: Webhook,
  payload: unknown,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<{ approved: boolean; detail: string }> {
  let detail = "";
  for (let attempt = 0; attempt <= hook.retries; attempt++) {
    if (attempt > 0) await sleep(Math.min(5_000, 250 * 2 ** attempt));
    try {
      const response = await fetch(hook.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(hook.timeout),
      });
      await response.body?.cancel();
      if (response.ok) return { approved: true, detail: `HTTP ${response.status}` };
      detail = `HTTP ${response.status}`;
      if (response.status < 500) return { approved: false, detail };
    } catch (error) {
      detail = error instanceof Error ? error.message : String(error);
    }
  }
  return { approved: false, detail: `${detail} after ${hook.retries + 1} attempts` };
}
