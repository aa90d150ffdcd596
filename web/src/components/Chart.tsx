// A chart, drawn by ECharts once its chunk has loaded. The chunk (the
// largest part of the bundle) is asked for only after the page has drawn
// its figures and tables, so they never wait for it.
import { lazy, Suspense, useEffect, useState } from "react";
import type { EChartsCoreOption } from "echarts/core";

const EChart = lazy(() => import("./EChart"));

export function Chart(props: { option: EChartsCoreOption; height?: number; testId?: string }) {
  const [ready, setReady] = useState(false);
  useEffect(() => {
    const t = setTimeout(() => setReady(true), 150);
    return () => clearTimeout(t);
  }, []);
  const box = <div style={{ width: "100%", height: props.height ?? 260 }} />;
  if (!ready) return box;
  return (
    <Suspense fallback={box}>
      <EChart {...props} />
    </Suspense>
  );
}
