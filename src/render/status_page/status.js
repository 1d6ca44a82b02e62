// Progressive enhancement for the status page. The page works without it:
// filters, sorting and paging are a GET form and plain links. This script
// reads nothing but the page itself and sends nothing anywhere.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("filters");
  if (form) {
    // Apply a filter as soon as a list or the checkbox changes.
    form.querySelectorAll("select, input[type=checkbox]").forEach(function (el) {
      el.addEventListener("change", function () {
        form.requestSubmit();
      });
    });
    // Leave empty and default fields out of the address, so bookmarks stay
    // short. The defaults come from the page (data-defaults).
    var defaults = {};
    new URLSearchParams(form.getAttribute("data-defaults") || "").forEach(function (value, name) {
      defaults[name] = value;
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, name) {
        if (value !== "" && defaults[name] !== value) {
          params.append(name, value);
        }
      });
      var query = params.toString();
      window.location.assign(query ? "?" + query : window.location.pathname);
    });
  }

  // The integrations table is short and not paged: it sorts in place when a
  // column header is clicked.
  var table = document.getElementById("integrations");
  if (table && table.tBodies.length > 0) {
    var body = table.tBodies[0];
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (th, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (other) {
          other.removeAttribute("aria-sort");
        });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.classList.contains("num");
        var key = function (row) {
          var cell = row.cells[column];
          return cell.getAttribute("data-sort") || cell.textContent.trim();
        };
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a);
          var y = key(b);
          var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
          return ascending ? c : -c;
        });
        rows.forEach(function (row) {
          body.appendChild(row);
        });
      });
    });
  }

  document.documentElement.setAttribute("data-js", "ready");
});
