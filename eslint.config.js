// One linter for the whole tree: typescript-eslint (type-checked) plus import-x for cycles.
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";

/** ARCHITECTURE.md, "Folder map": what each folder of src/ may import (besides itself). */
const MAY_IMPORT = {
  protocol: [],
  transport: ["protocol"],
  runtime: ["protocol", "transport", "storage", "logging", "rendezvous"],
  "runtime/worker": ["protocol", "transport"],
  storage: ["protocol"],
  apps: ["protocol"],
  backends: ["protocol", "runtime", "storage"],
  "control-plane": [
    "protocol",
    "transport",
    "runtime",
    "storage",
    "apps",
    "backends",
    "sdk",
    "logging",
    "rendezvous",
  ],
  sdk: ["protocol", "transport", "apps", "rendezvous"],
  logging: [],
  rendezvous: ["protocol", "transport", "logging"],
  testing: ["protocol", "apps", "control-plane", "sdk", "logging"],
  // The dashboard runs in a browser: API types only, never server code.
  ui: ["protocol"],
};

const layerZones = Object.entries(MAY_IMPORT).map(([folder, allowed]) => ({
  target: `./src/${folder}`,
  from: "./src",
  except: [folder, ...allowed].map((name) => `./${name}`),
  message: `src/${folder} may import ${allowed.length ? `only ${allowed.join(", ")}` : "nothing"} (ARCHITECTURE.md, "Folder map")`,
}));

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "coverage/**",
      // What `npm start` keeps in the checkout (bundles, swapped state).
      ".praas/**",
      "node_modules/**",
      "bench/results/**",
      "examples/**/node_modules/**",
      "test/fixtures/**",
      // Checked by compiling a scaffolded application (test/cli/init.test.ts).
      "templates/**",
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    settings: {
      // Without these, import-x parses only .js files for what they import, and no-cycle
      // never sees a cycle between .ts files.
      "import-x/extensions": [".ts", ".js"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      // Sources import `./x.js` meaning `./x.ts`: without this, import-x resolves nothing and its
      // cycle and layering rules pass vacuously.
      "import-x/resolver-next": [
        importX.createNodeResolver({
          extensions: [".ts", ".js", ".json", ".node"],
          extensionAlias: { ".js": [".ts", ".js"] },
        }),
      ],
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-expressions": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "import-x/no-cycle": "error",
      "import-x/no-restricted-paths": ["error", { zones: layerZones }],
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
