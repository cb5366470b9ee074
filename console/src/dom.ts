// The only way the console builds DOM: elements from tags, text only through
// textContent. Event content is user data, so no string is ever parsed as HTML
// (the page's CSP requires Trusted Types, so an innerHTML assignment would throw).

type Child = Node | string | number | null | undefined | false
type Props = Record<string, unknown> & { class?: string; on?: Record<string, (e: Event) => void> }

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue
    if (name === 'class') el.className = String(value)
    else if (name === 'on') for (const [type, fn] of Object.entries(value as Record<string, EventListener>)) el.addEventListener(type, fn)
    else if (name === 'dataset') Object.assign(el.dataset, value)
    else if (name in el && name !== 'list') (el as any)[name] = value
    else el.setAttribute(name, String(value))
  }
  append(el, ...children)
  return el
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
  }
}

export function clear(el: Element): void {
  el.replaceChildren()
}

// A labelled input for the filter and parameter forms.
export function field(label: string, input: HTMLInputElement | HTMLSelectElement): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', {}, label), input)
}

export function input(name: string, value = '', props: Props = {}): HTMLInputElement {
  return h('input', { name, value, autocomplete: 'off', spellcheck: false, ...props })
}

export function select(name: string, options: string[], value: string): HTMLSelectElement {
  const s = h('select', { name }, ...options.map(o => h('option', { value: o }, o || 'any')))
  s.value = value
  return s
}

export function button(label: string, onClick: () => void, props: Props = {}): HTMLButtonElement {
  return h('button', { type: 'button', ...props, on: { click: onClick } }, label)
}

// Pretty JSON as text: the safe way to show an event.
export function jsonBlock(value: unknown, props: Props = {}): HTMLPreElement {
  return h('pre', { class: 'json', ...props }, JSON.stringify(value, null, 2))
}

export function time(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { hour12: false })
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
