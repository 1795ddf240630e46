export interface Todo {
  id: number;
  title: string;
  done: boolean;
}

export function parseTodo(input: Uint8Array): Pick<Todo, "title"> {
  const value = JSON.parse(new TextDecoder().decode(input)) as { title?: unknown };
  if (typeof value.title !== "string" || value.title.length === 0) {
    throw new TypeError('expected {"title": "..."}');
  }
  return { title: value.title };
}
