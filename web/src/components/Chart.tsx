// A chart, drawn by ECharts once its chunk has loaded: pages come up with
// their figures and tables first, and the chart library (the largest part
// of the bundle) loads beside them.
import { lazy, Suspense } from "react";
import type { EChartsCoreOption } from "echarts/core";

const EChart = lazy(() => import("./EChart"));

export function Chart(props: { option: EChartsCoreOption; height?: number; testId?: string }) {
  return (
    <Suspense fallback={<div style={{ width: "100%", height: props.height ?? 260 }} />}>
      <EChart {...props} />
    </Suspense>
  );
}
