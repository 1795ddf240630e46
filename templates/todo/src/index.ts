// A todo list: JSON in and out, read-modify-write in a transaction.
import type { Context, Transaction } from "praas";

interface Todo {
  id: number;
  title: string;
  done: boolean;
}

async function load(state: Pick<Transaction, "get">): Promise<Todo[]> {
  const bytes = await state.get("todos");
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as Todo[]) : [];
}

/** Adds a todo: payload `{"title": "..."}`; returns it with its id. */
export async function add(input: Uint8Array, ctx: Context): Promise<Todo> {
  const { title } = JSON.parse(new TextDecoder().decode(input)) as { title?: unknown };
  if (typeof title !== "string" || title === "") throw new Error('payload needs a "title"');
  return ctx.state.transaction(async (tx) => {
    const todos = await load(tx);
    const todo: Todo = { id: todos.length + 1, title, done: false };
    tx.put("todos", [...todos, todo]);
    return todo;
  });
}

/** Lists the todos. */
export async function list(_input: Uint8Array, ctx: Context): Promise<Todo[]> {
  return load(ctx.state);
}
