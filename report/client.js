// Draws the report's charts in the browser, with Observable Plot (global `Plot`, inlined with
// d3 before this script), from the data the page embeds in #report-data. Each chart's section
// holds an element with `data-chart`; a section the data cannot fill already says why (the
// page is laid out by page.ts), and this script leaves it alone.
(() => {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  // Stations come as rows of values in the order of `stationFields`, to keep the page small.
  data.stations = data.stations.map((values) =>
    Object.fromEntries(data.stationFields.map((field, i) => [field, values[i]]))
  );
  const { colours } = data;
  const widthOf = (element) => Math.max(280, Math.min(element.clientWidth || 600, 1100));
  // Local wall-clock hours come as "2024-05-28T22:00:00"; read as UTC, they print as they are,
  // whatever the viewer's time zone.
  const wallClock = (text) => new Date(`${text}Z`);

  const draw = (name, build) => {
    const element = document.querySelector(`[data-chart="${name}"]`);
    if (!element) return;
    element.replaceChildren(build(widthOf(element)));
  };

  const stateOf = (station) => {
    if (station.stale) return "stale";
    if (station.station_status === "hors_service") return "out_of_service";
    if (station.station_status === "fermée") return "closed";
    if (station.bikes_available === 0) return "empty";
    if (station.docks_available === 0) return "saturated";
    return "in_between";
  };
  const occupancy = d3.scaleSequential([0, 1], d3.interpolateCividis);
  const fillOf = (station) => {
    const state = stateOf(station);
    if (state !== "in_between") return colours[state];
    return occupancy(Number(station.occupancy_rate ?? 0.5));
  };
  const titleOf = (s) =>
    `${s.station_name} (${s.station_code})\n` +
    `${s.bikes_available} bikes: ${s.mechanical_bikes} mechanical, ${s.electric_bikes} electric\n` +
    `${s.docks_available} free docks of ${s.capacity}\n` +
    `${data.labels[stateOf(s)]}\nlast report ${s.last_reported_local}`;

  draw("map", (width) => {
    const stations = data.stations;
    const height = Math.round(width * 0.75);
    const outline = {
      type: "MultiPoint",
      coordinates: stations.map((s) => [s.longitude, s.latitude]),
    };
    // The projection is kept, not only handed to Plot, to place the tiles with it.
    const projection = d3.geoMercator().fitExtent([[10, 10], [width - 10, height - 10]], outline);
    const map = Plot.plot({
      width,
      height,
      projection: () => projection,
      marks: [
        Plot.frame({ fill: "#f4f4f0", stroke: "#ccc" }),
        Plot.dot(stations, {
          x: "longitude",
          y: "latitude",
          r: width < 500 ? 2 : 3,
          fill: fillOf,
          stroke: (s) =>
            ["closed", "out_of_service", "stale"].includes(stateOf(s)) ? "#fff" : "none",
          strokeWidth: 0.5,
          title: titleOf,
          className: "stations",
        }),
      ],
    });
    if (data.tiles) addTiles(map, projection, { width, height });
    return map;
  });

  // The configured {z}/{x}/{y} tiles under the stations, at the zoom whose 256-pixel tiles are
  // closest to the map's scale (a Web Mercator world is 2π × scale pixels wide).
  function addTiles(svg, projection, { width, height }) {
    const z = Math.max(
      0,
      Math.min(19, Math.round(Math.log2((2 * Math.PI * projection.scale()) / 256))),
    );
    const n = 2 ** z;
    const lonOf = (x) => (x / n) * 360 - 180;
    const latOf = (y) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / n))) * 180) / Math.PI;
    const column = (lon) => Math.floor(((lon + 180) / 360) * n);
    const row = (lat) => {
      const r = (lat * Math.PI) / 180;
      return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
    };
    const [west, north] = projection.invert([0, 0]);
    const [east, south] = projection.invert([width, height]);
    const layer = document.createElementNS("http://www.w3.org/2000/svg", "g");
    layer.setAttribute("class", "tiles");
    for (let x = column(west); x <= column(east); x++) {
      for (let y = row(north); y <= row(south); y++) {
        const [x0, y0] = projection([lonOf(x), latOf(y)]);
        const [x1, y1] = projection([lonOf(x + 1), latOf(y + 1)]);
        const image = document.createElementNS("http://www.w3.org/2000/svg", "image");
        image.setAttribute(
          "href",
          data.tiles.replace("{z}", z).replace("{x}", x).replace("{y}", y),
        );
        image.setAttribute("x", x0);
        image.setAttribute("y", y0);
        image.setAttribute("width", x1 - x0);
        image.setAttribute("height", y1 - y0);
        image.setAttribute("preserveAspectRatio", "none");
        layer.append(image);
      }
    }
    svg.querySelector(".stations").before(layer);
  }

  draw("hourly", (width) => {
    const points = data.hourly.flatMap((h) => [
      { hour: wallClock(h.hour_local), kind: "mechanical", bikes: h.mechanical },
      { hour: wallClock(h.hour_local), kind: "electric", bikes: h.electric },
    ]);
    return Plot.plot({
      width,
      height: 260,
      marginLeft: 50,
      x: { type: "utc", label: "Hour (Paris time)", ticks: "hour", tickFormat: "%H:00" },
      y: { grid: true, label: "Bikes available", zero: true },
      color: { domain: ["mechanical", "electric"], range: colours.series, legend: true },
      marks: [
        Plot.line(points, { x: "hour", y: "bikes", stroke: "kind" }),
        ...["mechanical", "electric"].map((kind) =>
          Plot.dot(points.filter((p) => p.kind === kind), {
            x: "hour",
            y: "bikes",
            fill: "kind",
            r: 3,
            title: (p) => `${p.kind}: ${p.bikes} bikes at ${d3.utcFormat("%H:00")(p.hour)}`,
            className: `${kind}-by-hour`,
          })
        ),
      ],
    });
  });

  const days = ["", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  draw("heatmap", (width) =>
    Plot.plot({
      width,
      height: 240,
      marginLeft: 40,
      padding: 0.05,
      x: {
        label: "Hour of the day (Paris time)",
        domain: d3.range(24),
        tickFormat: (h) => h % 3 ? "" : h,
      },
      y: { label: null, domain: [1, 2, 3, 4, 5, 6, 7], tickFormat: (d) => days[d] },
      color: {
        type: "linear",
        scheme: "cividis",
        domain: [0, 1],
        label: "Occupancy",
        legend: true,
        tickFormat: "%",
      },
      marks: [
        Plot.cell(data.heatmap, {
          x: "hour_of_day",
          y: "isodow",
          fill: "avg_occupancy_rate",
          title: (c) =>
            `${days[c.isodow]} ${c.hour_of_day}:00: ${(c.avg_occupancy_rate * 100).toFixed(1)} % ` +
            `(${c.hours} h of data)`,
          className: "occupancy-cells",
        }),
      ],
    }));
})();
