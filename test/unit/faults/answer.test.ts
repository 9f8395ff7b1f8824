import { describe, expect, it } from "vitest";
import { DEFAULT_FAULT_STATUS, faultAnswer, isFaultHttpStatus } from "../../../src/faults/answer.ts";
import { FAULT_GRPC_STATUS_HEADER, FAULT_STATUS_HEADER } from "../../../src/routers/traffic-router.ts";

describe("fault answers", () => {
  it("answers the default status when the route asks for none", () => {
    expect(DEFAULT_FAULT_STATUS).toBe(503);
    expect(faultAnswer({}, 503)).toEqual({ status: 503 });
    expect(faultAnswer({ "content-type": "application/json" }, 418)).toEqual({ status: 418 });
  });

  it("answers the status the route sets in x-stepwise-fault-status", () => {
    expect(FAULT_STATUS_HEADER).toBe("x-stepwise-fault-status");
    expect(faultAnswer({ [FAULT_STATUS_HEADER]: "502" }, 503)).toEqual({ status: 502 });
    expect(faultAnswer({ [FAULT_STATUS_HEADER]: " 429 " }, 503)).toEqual({ status: 429 });
    expect(faultAnswer({ [FAULT_STATUS_HEADER]: "200" }, 503)).toEqual({ status: 200 });
  });

  it("answers a gRPC status as HTTP 200, ahead of an HTTP status", () => {
    expect(FAULT_GRPC_STATUS_HEADER).toBe("x-stepwise-fault-grpc-status");
    expect(faultAnswer({ [FAULT_GRPC_STATUS_HEADER]: "14" }, 503)).toEqual({ status: 200, grpcStatus: 14 });
    expect(faultAnswer({ [FAULT_GRPC_STATUS_HEADER]: "0" }, 503)).toEqual({ status: 200, grpcStatus: 0 });
    expect(faultAnswer({ [FAULT_GRPC_STATUS_HEADER]: "8", [FAULT_STATUS_HEADER]: "500" }, 503)).toEqual({
      status: 200,
      grpcStatus: 8,
    });
  });

  it("ignores a header that is not a status in range, or is repeated, and answers the default", () => {
    for (const value of ["", "abc", "5o3", "-1", "503.5", "199", "600", "999", "503, 504"])
      expect(faultAnswer({ [FAULT_STATUS_HEADER]: value }, 503), value).toEqual({ status: 503 });
    expect(faultAnswer({ [FAULT_STATUS_HEADER]: ["500", "502"] }, 503)).toEqual({ status: 503 });
    for (const value of ["17", "-1", "UNAVAILABLE"])
      expect(faultAnswer({ [FAULT_GRPC_STATUS_HEADER]: value }, 503), value).toEqual({ status: 503 });
    expect(faultAnswer({ [FAULT_GRPC_STATUS_HEADER]: "99", [FAULT_STATUS_HEADER]: "500" }, 503)).toEqual({
      status: 500,
    });
  });

  it("allows the HTTP statuses a Rollout's abort allows", () => {
    expect([199, 200, 418, 599, 600, 503.5, Number.NaN].map(isFaultHttpStatus)).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});
