// One linter for the whole tree: typescript-eslint (type-checked) plus import-x for cycles.
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "coverage/**",
      "node_modules/**",
      "bench/results/**",
      "examples/**/node_modules/**",
      "test/fixtures/**",
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-expressions": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "import-x/no-cycle": "error",
      "no-console": "error",
    },
  },
  {
    files: ["test/**", "bench/**", "examples/**", "src/cli/**"],
    rules: { "no-console": "off" },
  },
  {
    // Plain-JS examples are user code outside any tsconfig: lint them without type information.
    files: ["eslint.config.js", "examples/**/*.js", "scripts/**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { parserOptions: { projectService: false } },
  },
);
