// A TypeScript application: typed state, an extensionless import, JSON in and out.
import type { Context, Transaction } from "praas";
import { parseTodo, type Todo } from "./todo";

/** Reads the list from the state, or from a transaction's view of it. */
async function load(state: Pick<Transaction, "get">): Promise<Todo[]> {
  const bytes = await state.get("todos");
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as Todo[]) : [];
}

/**
 * Adds a todo: payload `{"title": "..."}`. Read and write in one transaction, so two adds at
 * once neither lose a todo nor hand out the same id.
 */
export async function add(input: Uint8Array, ctx: Context): Promise<Todo> {
  const { title } = parseTodo(input);
  return ctx.state.transaction(async (tx) => {
    const todos = await load(tx);
    const todo: Todo = { id: todos.length + 1, title, done: false };
    tx.put("todos", [...todos, todo]);
    return todo;
  });
}

/** Marks a todo done: payload is its id. */
export async function done(input: Uint8Array, ctx: Context): Promise<Todo> {
  const id = Number(new TextDecoder().decode(input));
  return ctx.state.transaction(async (tx) => {
    const todos = await load(tx);
    const todo = todos.find((t) => t.id === id);
    if (!todo) throw new RangeError(`no todo ${id}`);
    todo.done = true;
    tx.put("todos", todos);
    return todo;
  });
}

export async function list(_input: Uint8Array, ctx: Context): Promise<Todo[]> {
  return load(ctx.state);
}
