// The channel picker: one card per style. The card's main button plays the channel;
// its link opens the page straight into that channel.

import { listeners } from "./format.js";

// A calm hue per bundled style; other styles get a stable hue from their name.
const HUES = { baroque: 38, classical: 205, renaissance: 150, medieval: 275, folk: 14 };

export function hueOf(style) {
  if (Object.hasOwn(HUES, style)) return HUES[style];
  let h = 0;
  for (const ch of style) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

export class ChannelList {
  constructor(list, onChoose) {
    this.list = list;
    this.onChoose = onChoose;
    this.cards = new Map(); // style -> {item, refs}
    this.current = null;
    this.playing = false;
  }

  // Render the list from /api/channels, keeping existing cards (and keyboard focus) in place.
  update(channels) {
    const styles = new Set(channels.map((c) => c.style));
    for (const [style, card] of this.cards) {
      if (!styles.has(style)) {
        card.item.remove();
        this.cards.delete(style);
      }
    }
    channels.forEach((channel, index) => {
      let card = this.cards.get(channel.style);
      if (!card) {
        card = this.build(channel.style);
        this.cards.set(channel.style, card);
      }
      if (this.list.children[index] !== card.item) this.list.insertBefore(card.item, this.list.children[index] || null);
      this.fill(card, channel);
    });
    this.mark();
  }

  build(style) {
    const item = document.createElement("li");
    item.className = "card";
    item.dataset.style = style;
    item.style.setProperty("--hue", hueOf(style));
    item.innerHTML = `
      <button type="button" class="card-play">
        <span class="card-head"><span class="card-name"></span><span class="eq" aria-hidden="true"><i></i><i></i><i></i></span></span>
        <span class="card-desc"></span>
        <span class="card-now"><span class="card-now-label">Now</span> <span class="card-title"></span><span class="card-key"></span></span>
      </button>
      <div class="card-foot">
        <span class="card-listeners"></span>
        <a class="card-link"></a>
      </div>`;
    const q = (sel) => item.querySelector(sel);
    const refs = {
      button: q(".card-play"),
      name: q(".card-name"),
      desc: q(".card-desc"),
      title: q(".card-title"),
      key: q(".card-key"),
      listeners: q(".card-listeners"),
      link: q(".card-link"),
    };
    // The label stays short ("Play Baroque"); what is on air is read as its description.
    const id = `card-${style}`;
    refs.desc.id = `${id}-desc`;
    q(".card-now").id = `${id}-now`;
    refs.button.setAttribute("aria-describedby", `${id}-now ${id}-desc`);
    refs.button.addEventListener("click", () => this.onChoose(style));
    refs.link.href = `/listen/${encodeURIComponent(style)}`;
    return { item, refs };
  }

  fill({ refs }, channel) {
    const name = channel.name || channel.style;
    const np = channel.now_playing || {};
    setText(refs.name, name);
    setText(refs.desc, channel.description || "");
    setText(refs.title, np.title || "Warming up…");
    setText(refs.key, keySuffix(np));
    this.setListeners(channel.style, channel.listeners);
    setText(refs.link, `Link to ${name}`);
    refs.link.setAttribute("aria-label", `Direct link to the ${name} channel`);
    refs.button.setAttribute("aria-label", `Play ${name}`);
  }

  setListeners(style, count) {
    const card = this.cards.get(style);
    if (card) setText(card.refs.listeners, listeners(count));
  }

  setNowPlaying(style, piece) {
    const card = this.cards.get(style);
    if (!card || !piece) return;
    setText(card.refs.title, piece.title || "");
    setText(card.refs.key, keySuffix(piece));
  }

  select(style, playing) {
    this.current = style;
    this.playing = playing;
    this.mark();
  }

  mark() {
    for (const [style, { item, refs }] of this.cards) {
      const isCurrent = style === this.current;
      item.classList.toggle("is-current", isCurrent);
      item.classList.toggle("is-playing", isCurrent && this.playing);
      if (isCurrent) refs.button.setAttribute("aria-current", "true");
      else refs.button.removeAttribute("aria-current");
    }
  }

  has(style) {
    return this.cards.has(style);
  }
}

// Titles often name their key already ("Rondo No. 3 in E major"); don't say it twice.
function keySuffix(piece) {
  return piece.key && !(piece.title || "").includes(piece.key) ? ` · ${piece.key}` : "";
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}
