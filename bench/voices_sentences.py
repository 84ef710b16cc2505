"""The houses and sentences of the three voices-corpus splits (bench/make_voices_corpus.py).

Each split has its own house (areas, light names, satellites) and its own sentences, and
none of them is a house or a sentence of bench/corpus/commands: a recogniser tuned on one
split is reported on speech and names it never saw. The untouched split's lights have
names that are unusual words ("torchiere", "rattan", "pergola").

Commands are sentences Home Assistant 2026's English templates understand: lights by
name, areas by name, the satellite's own area ("switch on the lights"), brightness.
Overheard speech comes close to a command and must change nothing: remarks and stories
with the home's own names, devices the home does not have, a thermostat, negations,
questions, and stories quoting a command. Each overheard sentence sets the lights it
names to the state its quoted action would change, so acting on it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from bench.make_corpus import light_id


@dataclass(frozen=True, slots=True)
class Sentence:
    """Something said to a satellite: the lights it names before, and where they end."""

    text: str
    area: str
    """The area of the satellite that hears it."""
    initial: dict[str, str]
    expect: dict[str, str]

    @property
    def overheard(self) -> bool:
        """Speech that must change nothing."""
        return self.initial == self.expect


@dataclass(frozen=True, slots=True)
class Split:
    """One split: its house and what is said in it."""

    name: str
    areas: dict[str, list[str]]
    satellite_areas: tuple[str, ...]
    overheard_per_group: int = 2
    """Overheard WAVs per voice group (each group also says 6 commands)."""
    commands: list[Sentence] = field(default_factory=list)
    overheard: list[Sentence] = field(default_factory=list)

    def satellite(self, area: str) -> str:
        """The name of the satellite in an area."""
        if area not in self.satellite_areas:
            raise ValueError(f"split {self.name}: no satellite in {area!r}")
        return f"{area} satellite"

    def lights(self, area: str) -> tuple[str, ...]:
        """The light names of an area."""
        return tuple(self.areas[area])

    def _ids(self, names: tuple[str, ...]) -> list[str]:
        known = {n for names_ in self.areas.values() for n in names_}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"split {self.name}: no light {unknown}")
        return [light_id(n) for n in names]

    def on(self, text: str, at: str, *names: str) -> None:
        """A command that switches lights on (they start off)."""
        ids = self._ids(names)
        self.commands.append(
            Sentence(text, at, dict.fromkeys(ids, "off"), dict.fromkeys(ids, "on"))
        )

    def off(self, text: str, at: str, *names: str) -> None:
        """A command that switches lights off (they start on)."""
        ids = self._ids(names)
        self.commands.append(
            Sentence(text, at, dict.fromkeys(ids, "on"), dict.fromkeys(ids, "off"))
        )

    def level(self, text: str, at: str, percent: int, *names: str) -> None:
        """A brightness command; the lights start on at a level far from the target."""
        ids = self._ids(names)
        start = "on@20" if percent >= 50 else "on"
        self.commands.append(
            Sentence(text, at, dict.fromkeys(ids, start), dict.fromkeys(ids, f"on@{percent}"))
        )

    def heard(self, text: str, at: str, state: str = "", *names: str) -> None:
        """Overheard speech; the lights it names start in `state` and must stay so."""
        lights = dict.fromkeys(self._ids(names), state)
        self.overheard.append(Sentence(text, at, lights, dict(lights)))


def _rows(table: str) -> list[tuple[str, str, str, str]]:
    """A table's lines as (KIND, AREA of the satellite that hears it, LIGHTS, TEXT)."""
    rows: list[tuple[str, str, str, str]] = []
    for line in table.strip().splitlines():
        cells = [cell.strip() for cell in line.split("|", 3)]
        if len(cells) != 4:
            raise ValueError(f"not KIND | AREA | LIGHTS | TEXT: {line!r}")
        rows.append((cells[0], cells[1], cells[2], cells[3]))
    return rows


def _named(split: Split, lights: str) -> tuple[str, ...]:
    """Light names: "Kitchen *" is every light of the Kitchen, "-" none."""
    if lights == "-":
        return ()
    if lights.endswith(" *"):
        return split.lights(lights.removesuffix(" *"))
    return tuple(name.strip() for name in lights.split(","))


def _said(split: Split, commands: str, overheard: str) -> Split:
    """Add a split's commands (KIND: on, off or a brightness in percent) and its
    overheard speech (KIND: the state the named lights start and stay in, "-" for none)."""
    for kind, area, lights, text in _rows(commands):
        names = _named(split, lights)
        if kind in ("on", "off"):
            (split.on if kind == "on" else split.off)(text, area, *names)
        else:
            split.level(text, area, int(kind), *names)
    for state, area, lights, text in _rows(overheard):
        split.heard(text, area, "" if state == "-" else state, *_named(split, lights))
    return split


_TUNE: Final = _said(
    Split(
        "tune",
        {
            "Kitchen": ["Counter Lights", "Pantry Light"],
            "Office": ["Desk Lamp", "Bookcase Light"],
            "Dining Room": ["Chandelier", "Wall Sconces"],
            "Hallway": ["Entry Light"],
        },
        ("Kitchen", "Office", "Dining Room"),
        # Rejection rules are chosen here, so tune hears three times as much overheard
        # speech as the other splits: 108 WAVs of 39 sentences, not 36 of 13.
        overheard_per_group=6,
    ),
    """
on    | Kitchen     | Kitchen * | switch on the lights
off   | Office      | Office * | turn the lights off
40    | Dining Room | Dining Room * | set the brightness to forty percent
off   | Kitchen     | Kitchen * | lights out
100   | Office      | Office * | set the brightness to maximum
off   | Kitchen     | Dining Room * | turn off the lights in the dining room
on    | Dining Room | Office * | turn on the office lights
off   | Office      | Kitchen * | switch off the kitchen lights
on    | Office      | Entry Light | turn on the lights in the hallway
20    | Kitchen     | Office * | set the lights in the office to twenty percent
70    | Dining Room | Kitchen * | set the kitchen brightness to seventy percent
on    | Kitchen     | Chandelier | turn on the chandelier
off   | Dining Room | Chandelier | turn off the chandelier
on    | Office      | Desk Lamp | turn on the desk lamp
off   | Kitchen     | Desk Lamp | switch off the desk lamp
on    | Kitchen     | Pantry Light | turn on the pantry light
off   | Dining Room | Counter Lights | turn off the counter lights
on    | Office      | Wall Sconces | turn on the wall sconces
off   | Kitchen     | Entry Light | turn off the entry light
30    | Dining Room | Chandelier | set the chandelier to thirty percent
80    | Office      | Desk Lamp | set the brightness of the desk lamp to eighty percent
50    | Kitchen     | Bookcase Light | set the bookcase light to fifty percent
off   | Dining Room | Wall Sconces | turn the wall sconces off
on    | Office      | Bookcase Light | could you turn on the bookcase light
on    | Dining Room | Pantry Light | turn on the pantry light in the kitchen
60    | Kitchen     | Counter Lights | set the counter lights brightness to sixty percent
""",
    """
on@50 | Dining Room | Chandelier | the chandelier was so bright at dinner last night
off   | Office      | Desk Lamp | I left my glasses next to the desk lamp
on    | Kitchen     | Pantry Light | the pantry light has been flickering all week
on    | Kitchen     | Kitchen * | so he shouted turn off the kitchen lights and everybody laughed
off   | Kitchen     | Counter Lights | we bought the counter lights at a flea market
off   | Office      | Office * | my grandmother always said turn on the lights when you read
-     | Office      | - | turn on the sauna
-     | Kitchen     | - | switch off the coffee machine
-     | Dining Room | - | set the thermostat to twenty one degrees
on    | Dining Room | Chandelier | don't turn off the chandelier
off   | Office      | Office * | please don't turn on the office lights yet
off   | Dining Room | Wall Sconces | did you turn on the wall sconces
on    | Office      | Entry Light | who left the entry light on all night
off   | Office      | Desk Lamp | she told me to turn on the desk lamp before I start reading
on    | Kitchen     | Kitchen * | the kids keep asking me to switch off the kitchen lights
on    | Kitchen     | Pantry Light | I should really turn off the pantry light more often
on    | Dining Room | Wall Sconces | remember to switch off the wall sconces when you leave
on    | Office      | Bookcase Light | the bookcase light goes nicely with the new rug
off   | Kitchen     | Entry Light | the entry light is the first thing our guests see
on@50 | Dining Room | Dining Room * | the dining room lights were dim during the storm
on    | Kitchen     | Counter Lights | the counter lights are far too bright in the morning
off   | Office      | Office * | we could turn on the office lights a bit later
-     | Office      | - | turn on the television
off   | Office      | Office * | switch on the fan in the office
on    | Kitchen     | Kitchen * | turn off the oven
on    | Dining Room | Dining Room * | set the volume to forty percent
on    | Office      | Office * | set the blinds to fifty percent
off   | Kitchen     | Pantry Light | turn on the porch light
on    | Dining Room | Chandelier | turn off the garden lights
-     | Kitchen     | - | open the garage door
off   | Kitchen     | Pantry Light | do not switch on the pantry light
on    | Office      | Entry Light | never turn off the entry light
on    | Dining Room | Chandelier | don't set the chandelier to thirty percent
off   | Office      | Desk Lamp | there is no need to turn on the desk lamp
on    | Kitchen     | Counter Lights | why is the counter light still on
off   | Dining Room | Wall Sconces | how do I turn on the wall sconces
on    | Office      | Bookcase Light | when did you switch off the bookcase light
on    | Dining Room | Chandelier | should we turn off the chandelier now
""",
)


_TEST: Final = _said(
    Split(
        "test",
        {
            "Lounge": ["Arc Lamp", "Bookshelf Strip"],
            "Nursery": ["Night Light", "Star Projector"],
            "Garage": ["Workbench Light"],
            "Bathroom": ["Mirror Light", "Vanity Bulbs"],
        },
        ("Lounge", "Nursery", "Garage"),
    ),
    """
on    | Lounge      | Lounge * | turn the lights on
off   | Nursery     | Nursery * | switch off the lights
30    | Lounge      | Lounge * | set the brightness to thirty percent
on    | Garage      | Workbench Light | lights on
90    | Garage      | Workbench Light | set the workbench light to ninety percent
on    | Nursery     | Bathroom * | turn on the lights in the bathroom
off   | Garage      | Lounge * | turn off the lounge lights
on    | Lounge      | Nursery * | switch on the nursery lights
off   | Lounge      | Workbench Light | turn off the lights in the garage
60    | Garage      | Bathroom * | set the lights in the bathroom to sixty percent
20    | Nursery     | Lounge * | set the lounge brightness to twenty percent
on    | Nursery     | Arc Lamp | turn on the arc lamp
off   | Lounge      | Arc Lamp | turn off the arc lamp
on    | Nursery     | Night Light | turn on the night light
off   | Garage      | Night Light | turn off the night light
on    | Lounge      | Star Projector | switch on the star projector
off   | Lounge      | Bookshelf Strip | turn off the bookshelf strip
on    | Garage      | Workbench Light | turn on the workbench light
off   | Nursery     | Mirror Light | switch off the mirror light
40    | Lounge      | Arc Lamp | set the arc lamp to forty percent
70    | Garage      | Vanity Bulbs | set the brightness of the vanity bulbs to seventy percent
10    | Nursery     | Night Light | set the night light to ten percent
off   | Nursery     | Star Projector | turn the star projector off
on    | Lounge      | Vanity Bulbs | can you turn on the vanity bulbs
on    | Garage      | Mirror Light | turn on the mirror light in the bathroom
80    | Nursery     | Bookshelf Strip | set the bookshelf strip brightness to eighty percent
""",
    """
off   | Lounge      | Arc Lamp | the arc lamp looks lovely in the corner
on@50 | Nursery     | Night Light | the baby finally fell asleep under the night light
on    | Garage      | Workbench Light | I think the workbench light needs a new bulb
on    | Lounge      | Lounge * | and then she said switch off the lounge lights and walked out
off   | Nursery     | Star Projector | the star projector was a birthday present
on    | Garage      | Workbench Light | my dad used to yell turn off the lights every night
-     | Lounge      | - | turn on the hot tub
-     | Garage      | - | switch on the dishwasher
-     | Nursery     | - | turn the heating up to twenty two degrees
off   | Nursery     | Star Projector | don't switch on the star projector
on    | Nursery     | Mirror Light | never turn off the mirror light while I'm shaving
on    | Lounge      | Bookshelf Strip | did you switch off the bookshelf strip
on    | Garage      | Vanity Bulbs | why are the vanity bulbs still on
""",
)


_UNTOUCHED: Final = _said(
    Split(
        "untouched",
        {
            "Den": ["Torchiere", "Tiffany Lamp"],
            "Guest Room": ["Salt Lamp", "Rattan Pendant"],
            "Patio": ["Pergola Lights", "Lanterns"],
            "Studio": ["Easel Lamp", "Neon Sign"],
        },
        ("Den", "Guest Room", "Studio"),
    ),
    """
on    | Den         | Den * | turn on the lamps
off   | Studio      | Studio * | switch the lights off
50    | Guest Room  | Guest Room * | set the brightness to fifty percent
off   | Den         | Den * | lights off
on    | Guest Room  | Easel Lamp | turn on the easel lamp
on    | Studio      | Patio * | turn on the lights on the patio
off   | Guest Room  | Den * | turn off the den lights
on    | Den         | Studio * | switch on the lights in the studio
off   | Studio      | Guest Room * | turn off the guest room lights
70    | Studio      | Den * | set the lights in the den to seventy percent
40    | Den         | Studio * | set the studio brightness to forty percent
on    | Den         | Torchiere | turn on the torchiere
off   | Studio      | Torchiere | turn off the torchiere
on    | Guest Room  | Tiffany Lamp | turn on the tiffany lamp
off   | Den         | Tiffany Lamp | switch off the tiffany lamp
on    | Studio      | Salt Lamp | turn on the salt lamp
off   | Guest Room  | Rattan Pendant | turn off the rattan pendant
on    | Den         | Pergola Lights | switch on the pergola lights
off   | Studio      | Lanterns | turn off the lanterns
60    | Studio      | Easel Lamp | set the easel lamp to sixty percent
20    | Guest Room  | Torchiere | set the brightness of the torchiere to twenty percent
30    | Guest Room  | Salt Lamp | set the salt lamp to thirty percent
off   | Studio      | Neon Sign | turn the neon sign off
on    | Den         | Neon Sign | please turn on the neon sign
on    | Studio      | Rattan Pendant | turn on the rattan pendant in the guest room
90    | Den         | Pergola Lights | set the pergola lights brightness to ninety percent
""",
    """
off   | Den         | Torchiere | the torchiere came from my aunt's house
on@50 | Guest Room  | Tiffany Lamp | that tiffany lamp must be a hundred years old
off   | Studio      | Lanterns | we hung the lanterns for the party last summer
on    | Den         | Patio * | the landlord told us turn off the pergola lights after ten
on    | Studio      | Neon Sign | the neon sign buzzes when it rains
off   | Guest Room  | Den * | he read me the note that said turn on the lights in the den
-     | Den         | - | turn on the fireplace
-     | Studio      | - | switch off the air conditioner
-     | Guest Room  | - | set the thermostat to nineteen degrees
on    | Guest Room  | Salt Lamp | don't turn off the salt lamp
off   | Studio      | Neon Sign | you shouldn't switch on the neon sign during the day
on    | Studio      | Easel Lamp | did you turn off the easel lamp
off   | Guest Room  | Rattan Pendant | is it too late to turn on the rattan pendant
""",
)


SPLITS: Final = {split.name: split for split in (_TUNE, _TEST, _UNTOUCHED)}
