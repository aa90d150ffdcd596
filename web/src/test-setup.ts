import "@testing-library/jest-dom/vitest";

// Mantine reads these browser APIs, which jsdom lacks.
window.matchMedia ||= ((query: string) => ({
  matches: false,
  media: query,
  onchange: null,
  addListener: () => {},
  removeListener: () => {},
  addEventListener: () => {},
  removeEventListener: () => {},
  dispatchEvent: () => false,
})) as unknown as typeof window.matchMedia;
class NoResize {
  observe() {}
  unobserve() {}
  disconnect() {}
}
window.ResizeObserver ||= NoResize as unknown as typeof ResizeObserver;
window.HTMLElement.prototype.scrollIntoView ||= () => {};
