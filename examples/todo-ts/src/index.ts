// A TypeScript application: typed state, an extensionless import, JSON in and out.
import type { Context } from "praas";
import { parseTodo, type Todo } from "./todo";

async function load(ctx: Context): Promise<Todo[]> {
  const bytes = await ctx.state.get("todos");
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as Todo[]) : [];
}

/** Adds a todo: payload `{"title": "..."}`. */
export async function add(input: Uint8Array, ctx: Context): Promise<Todo> {
  const todos = await load(ctx);
  const todo: Todo = { id: todos.length + 1, title: parseTodo(input).title, done: false };
  await ctx.state.put("todos", [...todos, todo]);
  return todo;
}

/** Marks a todo done: payload is its id. */
export async function done(input: Uint8Array, ctx: Context): Promise<Todo> {
  const id = Number(new TextDecoder().decode(input));
  const todos = await load(ctx);
  const todo = todos.find((t) => t.id === id);
  if (!todo) throw new RangeError(`no todo ${id}`);
  todo.done = true;
  await ctx.state.put("todos", todos);
  return todo;
}

export async function list(_input: Uint8Array, ctx: Context): Promise<Todo[]> {
  return load(ctx);
}
