import { createTheme } from "@mantine/core";

export const theme = createTheme({
  primaryColor: "indigo",
  fontFamily: "DejaVu Sans, system-ui, sans-serif",
  defaultRadius: "sm",
});
