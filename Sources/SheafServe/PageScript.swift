/// page.js, which keeps the server-rendered page live.
///
/// It follows `/events` from the offset the page
/// was rendered at (the browser's EventSource sends `Last-Event-ID` on a reconnect), appends the
/// text being written as text, and on any other event fetches `/api/state` (at most four times a
/// second) to redraw what changed; a finished section's text is fetched as the HTML the server
/// renders. With the token (from `?token=`, then kept for the tab) it adds the actions.
enum PageScript {
  static let text = #"""
    (function () {
      'use strict';
      var params = new URLSearchParams(location.search);
      var token = params.get('token') || sessionStorage.getItem('sheaf-token') || '';
      if (params.get('token')) {
        sessionStorage.setItem('sheaf-token', token);
        history.replaceState(null, '', location.pathname);
      }
      var marks = { completed: '✓', human: '✎', failed: '✗', skipped: '⊘', cancelled: '■',
        paused: '‖', damaged: '!', processing: '…' };
      var timer = null;
      var started = {};
      var shownAt = Date.now();
      var state = null;

      function $(selector, root) { return (root || document).querySelector(selector); }
      function node(id) { return document.getElementById('s-' + id); }
      function make(tag, text, attributes) {
        var element = document.createElement(tag);
        if (text) element.textContent = text;
        for (var key in attributes || {}) element.setAttribute(key, attributes[key]);
        return element;
      }

      var source = new EventSource('events?from=' + encodeURIComponent(document.body.dataset.offset));
      source.onmessage = function (message) {
        document.body.dataset.lastEvent = message.lastEventId;
        var event;
        try { event = JSON.parse(message.data); } catch (e) { return; }
        apply(event);
      };
      source.addEventListener('reset', function () { location.reload(); });

      function apply(event) {
        var section = event.id ? node(event.id) : null;
        if (event.event === 'chunk') {
          // The state may be ahead of the stream: text for a section already shown finished is
          // not shown again (unless the section started anew since).
          if (section && (section.dataset.status === 'processing' || started[event.id])) {
            $('.stream', section).textContent += event.text || '';
            if (section.dataset.status !== 'processing') mark(section, 'processing');
          }
          return;
        }
        if (event.event === 'section_start' && section) {
          started[event.id] = true;
          $('.stream', section).textContent = '';
          mark(section, 'processing');
        }
        if ((event.event === 'section_complete' || event.event === 'section_failed') && event.id) {
          delete started[event.id];
        }
        if (event.event === 'progress' && event.phase === 'INIT') {
          document.querySelectorAll('.stream').forEach(function (pre) { pre.textContent = ''; });
        }
        later();
      }

      function mark(section, status) {
        section.dataset.status = status;
        var sign = $('.mark', section);
        sign.textContent = marks[status] || '·';
        sign.title = status;
      }

      function later() {
        if (!timer) timer = setTimeout(function () { timer = null; refresh(); }, 250);
      }

      function refresh() {
        fetch('api/state', { cache: 'no-store' }).then(function (response) {
          return response.ok ? response.json() : null;
        }).then(function (fresh) { if (fresh) render(fresh); }).catch(function () {});
      }

      function render(fresh) {
        state = fresh;
        shownAt = Date.now();
        $('#status').innerHTML = fresh.header_html;
        var ids = fresh.sections.map(function (s) { return s.id; }).join(' ');
        var shown = Array.prototype.map.call(document.querySelectorAll('.section'),
          function (s) { return s.dataset.id; }).join(' ');
        if (ids !== shown) { location.reload(); return; }
        fresh.sections.forEach(function (s) {
          var section = node(s.id);
          tools(section, s);
          // Drawn again when it changed, or when the stream moved it on since (its end event
          // then brings a fresh state).
          if (section.dataset.version === s.version && section.dataset.status === s.status) return;
          section.dataset.version = s.version;
          mark(section, s.status);
          $('.meta', section).innerHTML = s.meta_html;
          var error = $('.error', section);
          if (s.error_text) {
            if (!error) {
              error = make('p', '', { class: 'error' });
              section.insertBefore(error, $('.content', section));
            }
            error.textContent = s.error_text;
          } else if (error) {
            error.remove();
          }
          if (s.status !== 'processing') $('.stream', section).textContent = '';
          if (s.status === 'completed' || s.status === 'human') {
            fetch('api/section/' + encodeURIComponent(s.id), { cache: 'no-store' })
              .then(function (response) { return response.text(); })
              .then(function (html) { $('.content', section).innerHTML = html; });
          } else if (s.status !== 'processing') {
            $('.content', section).textContent = '';
          }
        });
        showAction(fresh.action);
      }

      // The clock between two states: the elapsed time goes up, the ETA down.
      setInterval(function () {
        var running = $('#document') && $('#document').dataset.status === 'running';
        var gone = (Date.now() - shownAt) / 1000;
        [['#elapsed', 1], ['#eta', -1]].forEach(function (pair) {
          var element = $(pair[0]);
          if (!element || !running) return;
          var seconds = Math.round(Math.max(0, Number(element.dataset.s) + pair[1] * gone));
          element.textContent = Math.floor(seconds / 60) + ':' + String(seconds % 60).padStart(2, '0');
        });
      }, 1000);

      function post(path, body) {
        return fetch(path, {
          method: 'POST', cache: 'no-store',
          headers: { 'Content-Type': 'application/json', 'X-Sheaf-Token': token },
          body: JSON.stringify(body || {})
        }).then(function (response) {
          return response.json().then(function (json) { return { status: response.status, json: json }; });
        });
      }

      var polling = null;
      function showAction(action) {
        var box = $('#action');
        if (!action) return;
        box.hidden = false;
        $('h2', box).textContent = action.name + (action.running ? ': running' :
          (action.status === 0 ? ': done' : ': ended with status ' + action.status));
        $('#action-output').textContent = action.output;
        if (action.running && !polling) {
          polling = setInterval(function () {
            fetch('api/action', { cache: 'no-store' }).then(function (r) { return r.json(); })
              .then(function (now) {
                showAction(now);
                if (!now || !now.running) { clearInterval(polling); polling = null; refresh(); }
              });
          }, 1000);
        }
      }

      function said(result) {
        if (result.json && result.json.error) return result.json.error;
        return (result.json && result.json.output) || '';
      }

      function tools(section, s) {
        if (!token) return;
        var bar = $('.tools', section);
        var written = ['completed', 'human', 'failed', 'skipped', 'cancelled'].indexOf(s.status) >= 0;
        if (bar) bar.hidden = !written && !$('.regen-form', bar);
        if (!written && !bar) return;
        if (!bar) {
          bar = make('div', '', { class: 'tools' });
          var regen = make('button', 'Regenerate…', { type: 'button', class: 'regen' });
          regen.onclick = function () { regenerate(section, bar); };
          bar.appendChild(regen);
          section.insertBefore(bar, $('.content', section));
        }
        var approve = $('.approve', bar);
        if (s.awaits_review && !approve) {
          approve = make('button', 'Approve', { type: 'button', class: 'approve' });
          approve.onclick = function () {
            post('api/approve', { section: s.id }).then(function (result) {
              showAction(result.json && result.json.name ? result.json : { name: 'approve', output: said(result), status: result.status });
              refresh();
            });
          };
          bar.appendChild(approve);
        } else if (!s.awaits_review && approve) {
          approve.remove();
        }
      }

      function regenerate(section, bar) {
        var id = section.dataset.id;
        var form = $('.regen-form', bar);
        if (form) { form.remove(); return; }
        form = make('div', '', { class: 'regen-form' });
        var note = make('textarea', '', { rows: '2', placeholder: 'a note: what to change (kept as the section\'s instructions)', class: 'note' });
        form.appendChild(note);
        var list = make('fieldset', '', { class: 'affected' });
        list.appendChild(make('legend', 'Also redo the sections that use it'));
        form.appendChild(list);
        var out = make('pre', '', { class: 'said' });
        fetch('api/affected/' + encodeURIComponent(id), { cache: 'no-store' })
          .then(function (r) { return r.json(); }).then(function (json) {
            if (!json.affected.length) list.appendChild(make('p', 'none uses it'));
            json.affected.forEach(function (user) {
              var label = make('label');
              var box = make('input', '', { type: 'checkbox', value: user.id, checked: 'checked' });
              label.appendChild(box);
              label.appendChild(document.createTextNode(' ' + user.title + ' '));
              list.appendChild(label);
            });
          });
        function body(dry) {
          var boxes = Array.prototype.slice.call(list.querySelectorAll('input'));
          var chosen = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
          var cascade = chosen.length === boxes.length ? 'yes' : (chosen.length ? chosen.join(',') : 'no');
          return { section: id, note: note.value.replace(/\s+/g, ' ').trim(), cascade: cascade, dry: dry };
        }
        var estimate = make('button', 'Estimate (DRY=1)', { type: 'button', class: 'estimate' });
        estimate.onclick = function () {
          out.textContent = 'estimating…';
          post('api/regen', body(true)).then(function (result) { out.textContent = said(result); });
        };
        var go = make('button', 'Regenerate', { type: 'button', class: 'confirm' });
        go.onclick = function () {
          post('api/regen', body(false)).then(function (result) {
            if (result.status === 202) { form.remove(); showAction(result.json); } else { out.textContent = said(result); }
          });
        };
        form.appendChild(estimate);
        form.appendChild(go);
        form.appendChild(out);
        bar.appendChild(form);
      }

      if (token) {
        $('#controls').hidden = false;
        $('#run-doc').onclick = function () {
          post('api/run').then(function (result) {
            if (result.status === 202) showAction(result.json);
            else showAction({ name: 'make doc', output: said(result), status: result.status });
          });
        };
        $('#pause').onclick = function () {
          post('api/pause').then(function (result) {
            showAction(result.json && result.json.name ? result.json : { name: 'pause', output: said(result), status: result.status });
            refresh();
          });
        };
      }
      refresh();
    })();

    """#
}
