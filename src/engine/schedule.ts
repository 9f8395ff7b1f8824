import cron from "node-cron";

export interface ScheduleWindow {
  window: string;
  timeZone: string;
}

const FULL_DAYS_OF_MONTH = 31;
const FULL_DAYS_OF_WEEK = 7;

/** The wall-clock fields of `now` in a time zone, as cron reads them. */
function localFields(now: Date, timeZone: string) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    minute: "numeric",
    hour: "numeric",
    day: "numeric",
    month: "numeric",
    weekday: "short",
  }).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  const weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  return {
    minute: Number(part("minute")),
    hour: Number(part("hour")),
    dayOfMonth: Number(part("day")),
    month: Number(part("month")),
    dayOfWeek: weekdays.indexOf(part("weekday")),
  };
}

/**
 * Whether `now` falls inside a cron window (minute resolution) in the window's time zone. As in cron,
 * when both day-of-month and day-of-week are restricted, either one matching is enough.
 */
export function scheduleOpen(schedule: ScheduleWindow, now: Date): boolean {
  const fields = cron.parse(schedule.window);
  const at = localFields(now, schedule.timeZone);
  const has = (values: (number | string)[], value: number) => values.some((v) => Number(v) === value);
  if (!has(fields.minute, at.minute) || !has(fields.hour, at.hour) || !has(fields.month, at.month))
    return false;
  const dayOfMonthRestricted = fields.dayOfMonth.length < FULL_DAYS_OF_MONTH;
  const dayOfWeekRestricted = new Set(fields.dayOfWeek.map((d) => Number(d) % 7)).size < FULL_DAYS_OF_WEEK;
  const dayOfMonth = has(fields.dayOfMonth, at.dayOfMonth);
  const dayOfWeek = fields.dayOfWeek.some((d) => Number(d) % 7 === at.dayOfWeek);
  if (dayOfMonthRestricted && dayOfWeekRestricted) return dayOfMonth || dayOfWeek;
  return dayOfMonth && dayOfWeek;
}
