// Who is in the room, from the presence channel: both participants are listed, each marked
// "in the room" or not, and a line says when the other one joined or left.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

export class Presence {
  /**
   * @param {object} config the room config
   * @param {object} els {list, event}
   * @param {(present: boolean, seenBefore: boolean) => void} onPeer told whenever the other
   *   one comes or goes, and on every full member list
   */
  constructor(config, els, onPeer) {
    this.config = config;
    this.els = els;
    this.onPeer = onPeer;
    this.here = new Set();
    this.seenPeer = false;
    this.render();
  }

  /** The full member list (on every (re)subscription). */
  setMembers(members) {
    const hadPeer = this.here.has(this.config.peer.email);
    this.here = new Set(members.map((member) => member.id));
    this.here.add(this.config.email);
    this._peerChanged(hadPeer, true);
  }

  added(member) {
    const hadPeer = this.here.has(this.config.peer.email);
    this.here.add(member.id);
    this._peerChanged(hadPeer);
  }

  removed(member) {
    const hadPeer = this.here.has(this.config.peer.email);
    this.here.delete(member.id);
    this._peerChanged(hadPeer);
  }

  peerPresent() {
    return this.here.has(this.config.peer.email);
  }

  _peerChanged(hadPeer, fullList = false) {
    const hasPeer = this.peerPresent();
    this.render();
    if (hasPeer === hadPeer) {
      if (fullList) this.onPeer(hasPeer, this.seenPeer);
      return;
    }
    const name = this.config.peer.name;
    const at = timeFormat.format(new Date());
    if (hasPeer) {
      this.els.event.textContent = this.seenPeer ? `${name} came back at ${at}.` : `${name} joined at ${at}.`;
      this.seenPeer = true;
    } else {
      this.els.event.textContent = `${name} left the room at ${at}.`;
    }
    this.els.event.dataset.state = hasPeer ? "joined" : "left";
    this.onPeer(hasPeer, this.seenPeer);
  }

  render() {
    const people = [
      { email: this.config.email, name: this.config.name, role: this.config.role, me: true },
      { ...this.config.peer, me: false },
    ];
    const items = people.map((person) => {
      const here = person.me || this.here.has(person.email);
      const item = document.createElement("li");
      item.className = `presence__person${here ? " presence__person--here" : ""}`;
      item.dataset.email = person.email;
      item.dataset.here = String(here);
      const dot = document.createElement("span");
      dot.className = "presence__dot";
      dot.setAttribute("aria-hidden", "true");
      const name = document.createElement("span");
      name.className = "presence__name";
      name.textContent = person.me ? `${person.name} (you)` : person.name;
      const role = document.createElement("span");
      role.className = "presence__role";
      role.textContent = person.role;
      const state = document.createElement("span");
      state.className = "presence__state";
      state.textContent = here ? "in the room" : this.seenPeer ? "left" : "not here yet";
      item.append(dot, name, role, state);
      return item;
    });
    this.els.list.replaceChildren(...items);
  }
}
