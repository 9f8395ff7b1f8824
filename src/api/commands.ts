import { z } from "zod";
import { API_GROUP } from "./common.ts";

/**
 * Manual commands (`rollout promote`, the TUI's keys, ...) are written to this annotation on the
 * Rollout. The controller applies a command once and records its id in status.lastCommand, so a
 * command survives controller restarts and is never applied twice.
 */
export const COMMAND_ANNOTATION = `${API_GROUP}/command`;

const Id = z.string().min(1);

export const Command = z.discriminatedUnion("type", [
  z.strictObject({ id: Id, type: z.enum(["pause", "resume", "abort", "retry"]) }),
  z.strictObject({ id: Id, type: z.literal("promote"), full: z.boolean().optional() }),
  z.strictObject({ id: Id, type: z.literal("set-weight"), weight: z.number().min(0).max(100) }),
]);
export type Command = z.output<typeof Command>;

/** The command in a Rollout's annotations; undefined when there is none or it is not valid JSON. */
export function readCommand(annotations: Record<string, string> | undefined): Command | undefined {
  const text = annotations?.[COMMAND_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const result = Command.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
