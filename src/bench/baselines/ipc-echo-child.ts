/** The child-process IPC baseline's echo child: sends every message straight back. */
process.on("message", (message) => {
  process.send?.(message);
});
process.on("disconnect", () => process.exit(0));
