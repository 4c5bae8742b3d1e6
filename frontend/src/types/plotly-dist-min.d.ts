// plotly.js's prebuilt bundle ships without declarations; the page uses newPlot only.
declare module 'plotly.js-dist-min' {
  const Plotly: {
    newPlot(element: HTMLElement, data: unknown, layout?: unknown, config?: unknown): Promise<HTMLElement>;
  };
  export default Plotly;
}
