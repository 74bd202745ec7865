// Charts of the dashboard pages, drawn with TradingView's Lightweight Charts (vendored in
// static/vendor/lightweight-charts, the global LightweightCharts). Each chart is an element with
// data-chart="equity" or "price" and data-chart-data naming the json_script element that holds
// its data; decimals arrive as strings and become numbers here for drawing only.
(function () {
  "use strict";

  const LWC = window.LightweightCharts;
  if (!LWC) {
    return;
  }

  const COLORS = {
    background: "#161b22",
    text: "#8b95a3",
    grid: "#222933",
    border: "#2a313c",
    line: "#5aa9ff",
    entry: "#d7dde5",
    stop: "#f85149",
    takeProfit: "#3fb950",
    buy: "#3fb950",
    sell: "#d29922",
  };

  const priceText = new Intl.NumberFormat("en-US", {
    maximumSignificantDigits: 6,
    useGrouping: false,
  });

  function formatPrice(value) {
    return priceText.format(value);
  }

  function seconds(iso) {
    return Math.floor(Date.parse(iso) / 1000);
  }

  // The chart wants one value per time, ascending: the last value of each second wins.
  function series(points, key) {
    const bySecond = new Map();
    for (const point of points || []) {
      const time = seconds(point.t);
      const value = Number(point[key]);
      if (Number.isFinite(time) && Number.isFinite(value)) {
        bySecond.set(time, value);
      }
    }
    return Array.from(bySecond, ([time, value]) => ({ time: time, value: value })).sort(
      (a, b) => a.time - b.time,
    );
  }

  function newChart(element) {
    return LWC.createChart(element, {
      autoSize: true,
      layout: {
        background: { type: "solid", color: COLORS.background },
        textColor: COLORS.text,
        // The logo adds an inline <style>, which the Content-Security-Policy refuses; the
        // attribution is printed under each chart instead.
        attributionLogo: false,
      },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderColor: COLORS.border },
      timeScale: { borderColor: COLORS.border, timeVisible: true, secondsVisible: false },
      localization: { priceFormatter: formatPrice },
    });
  }

  function lineSeries(chart) {
    return chart.addSeries(LWC.LineSeries, {
      color: COLORS.line,
      lineWidth: 2,
      priceFormat: { type: "custom", formatter: formatPrice, minMove: 1e-12 },
    });
  }

  function drawEquity(element, data) {
    const chart = newChart(element);
    lineSeries(chart).setData(series(data.points, "equity"));
    chart.timeScale().fitContent();
  }

  const LINE_COLORS = { entry: COLORS.entry, stop: COLORS.stop, "take-profit": COLORS.takeProfit };

  // The price scale reaches the entry, stop and take-profit lines too, not only the prices.
  function scaleIncluding(levels) {
    return (original) => {
      const found = original();
      if (!found || !found.priceRange || !levels.length) {
        return found;
      }
      const low = Math.min(found.priceRange.minValue, ...levels);
      const high = Math.max(found.priceRange.maxValue, ...levels);
      return { priceRange: { minValue: low, maxValue: high }, margins: found.margins };
    };
  }

  function drawPrice(element, data) {
    const chart = newChart(element);
    const line = lineSeries(chart);
    const levels = (data.lines || []).filter((level) => Number.isFinite(Number(level.price)));
    line.applyOptions({
      autoscaleInfoProvider: scaleIncluding(levels.map((level) => Number(level.price))),
    });
    line.setData(series(data.points, "price"));
    for (const level of levels) {
      const price = Number(level.price);
      line.createPriceLine({
        price: price,
        color: LINE_COLORS[level.kind] || COLORS.text,
        lineWidth: 1,
        lineStyle: level.kind === "entry" ? LWC.LineStyle.Solid : LWC.LineStyle.Dashed,
        axisLabelVisible: true,
        title: level.name,
      });
    }
    const markers = (data.markers || [])
      .map((marker) => {
        const buy = marker.kind === "buy";
        return {
          time: seconds(marker.t),
          position: buy ? "belowBar" : "aboveBar",
          color: buy ? COLORS.buy : COLORS.sell,
          shape: buy ? "arrowUp" : "arrowDown",
          text: marker.text,
        };
      })
      .filter((marker) => Number.isFinite(marker.time))
      .sort((a, b) => a.time - b.time);
    LWC.createSeriesMarkers(line, markers);
    chart.timeScale().fitContent();
  }

  const DRAW = { equity: drawEquity, price: drawPrice };

  for (const element of document.querySelectorAll("[data-chart]")) {
    const draw = DRAW[element.dataset.chart];
    const source = document.getElementById(element.dataset.chartData || "");
    if (!draw || !source) {
      continue;
    }
    draw(element, JSON.parse(source.textContent) || {});
    element.dataset.drawn = "true";
  }
})();
