/**
 * A seeded pseudo-random generator and the samplers the simulations need (bench/time-to-detect.ts and the
 * simulated error-rate checks in the tests), so their figures are reproducible.
 */

export interface Random {
  /** A uniform number in [0, 1). */
  next(): number;
}

/** xoshiro128** (Blackman and Vigna), seeded through splitmix32. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const splitmix = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  if ((a | b | c | d) === 0) a = 1;
  return {
    next() {
      const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
      const t = (b << 9) >>> 0;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = rotl(d, 11);
      return result / 4294967296;
    },
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

const LOG_FACTORIALS: number[] = [0];
for (let k = 1; k < 256; k++) LOG_FACTORIALS.push(LOG_FACTORIALS[k - 1]! + Math.log(k));

/** log(k!) exactly below 256, by Stirling's series above (error below 1e-12). */
export function logFactorial(k: number): number {
  if (k < LOG_FACTORIALS.length) return LOG_FACTORIALS[k]!;
  const n = k + 1;
  return (
    (n - 0.5) * Math.log(n) -
    n +
    0.5 * Math.log(2 * Math.PI) +
    1 / (12 * n) -
    1 / (360 * n ** 3) +
    1 / (1260 * n ** 5)
  );
}

/** A Poisson draw: inversion for small means, Hörmann's PTRS transformed rejection for large ones. */
export function poisson(random: Random, mean: number): number {
  if (mean <= 0) return 0;
  if (mean < 30) {
    let k = 0;
    let p = Math.exp(-mean);
    let cumulative = p;
    const u = random.next();
    while (u > cumulative && k < 10_000) {
      k++;
      p *= mean / k;
      cumulative += p;
    }
    return k;
  }
  const slam = Math.sqrt(mean);
  const logMean = Math.log(mean);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = random.next() - 0.5;
    const v = random.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (
      Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <=
      -mean + k * logMean - logFactorial(k)
    )
      return k;
  }
}

/** A binomial draw by inversion, in chunks whose mean stays small (exact, and fast for small rates). */
export function binomial(random: Random, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(random, n, 1 - p);
  const chunk = Math.max(1, Math.floor(20 / p));
  let total = 0;
  for (let left = n; left > 0; left -= chunk) total += binomialInversion(random, Math.min(left, chunk), p);
  return total;
}

function binomialInversion(random: Random, n: number, p: number): number {
  const odds = p / (1 - p);
  let k = 0;
  let probability = Math.exp(n * Math.log1p(-p));
  let cumulative = probability;
  const u = random.next();
  while (u > cumulative && k < n) {
    probability *= ((n - k) / (k + 1)) * odds;
    k++;
    cumulative += probability;
  }
  return k;
}
