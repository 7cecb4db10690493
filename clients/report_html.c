/* report_html: the response-circle report as one self-contained HTML page (no script, no
 * external file): the figures of report.c drawn as inline SVG. Every number on the page comes
 * from struct rep; nothing is computed here that the JSON report does not also carry. */
#include "report_int.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Colours of the four statuses, and grey for "nothing to judge". */
static const struct {
	const char *name, *fill;
} html_colours[] = {
    {"green", "#2e7d32"}, {"yellow", "#f9a825"}, {"orange", "#ef6c00"},
    {"red", "#c62828"},	  {"grey", "#9e9e9e"},
};

/* Writes S with the five HTML special characters escaped ("-" for NULL). */
static void
esc(FILE *out, const char *s)
{
	if (s == NULL) {
		fputs("-", out);
		return;
	}
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

/* Writes a duration (ms) as [h:]mm:ss, or "-" for NONE. */
static void
dur(FILE *out, int64_t ms)
{
	char b[32];

	fputs(ms == NONE ? "-" : report_fmt_dur(ms, b, sizeof b), out);
}

/* Writes NUM/DEN as a percentage with one decimal, or "-" when DEN is 0. */
static void
pct(FILE *out, long num, long den)
{
	if (den)
		fprintf(out, "%.1f&#8239;%%", 100.0 * (double)num / (double)den);
	else
		fputs("-", out);
}

/* Returns the fill of status NAME. */
static const char *
fill_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof html_colours / sizeof html_colours[0]; i++)
		if (strcmp(html_colours[i].name, name) == 0)
			return html_colours[i].fill;
	return "#9e9e9e";
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>muster report</title>\n<style>\n"
    "body{font-family:'DejaVu Sans',sans-serif;margin:24px;color:#212121;max-width:1100px}\n"
    "h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}\n"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px "
    "8px;font-size:13px}th{background:#eee}td.n{text-align:right}\n"
    ".cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ccc;padding:8px "
    "14px;border-radius:6px}.card b{display:block;font-size:22px}\n"
    "svg text{font-family:'DejaVu Sans',sans-serif;font-size:11px}\n"
    ".note{color:#555;font-size:13px}\n</style>\n</head>\n<body>\n";

/* The heading: what was read, and the headline figures. */
static void
html_heading(const struct rep *R, FILE *out)
{
	const struct group *t = &R->total;
	char a[32], b[32];

	fputs("<h1>Response-circle report</h1>\n<table id=\"meta\">\n<tr><th>database</th><td>",
	      out);
	esc(out, R->path);
	fprintf(out, "</td></tr>\n<tr><th>calls</th><td>%ld (%s), %ld responses</td></tr>\n",
		t->calls, R->o->include_exercise ? "live and exercise" : "live only", t->responses);
	fprintf(out, "<tr><th>received</th><td>%s .. %s</td></tr>\n",
		report_fmt_time(t->calls ? R->first_received : NONE, a, sizeof a),
		report_fmt_time(t->calls ? R->last_received : NONE, b, sizeof b));
	if (R->o->has_from || R->o->has_to)
		fprintf(out, "<tr><th>window</th><td>%s .. %s</td></tr>\n",
			R->o->has_from ? report_fmt_time(R->o->from_ms, a, sizeof a) : "",
			R->o->has_to ? report_fmt_time(R->o->to_ms, b, sizeof b) : "");
	if (!R->o->include_exercise && R->exercise_left_out)
		fprintf(out, "<tr><th>exercise calls left out</th><td>%ld</td></tr>\n",
			R->exercise_left_out);
	fputs("</table>\n<div class=\"cards\" id=\"headline\">\n", out);
	fprintf(out, "<div class=\"card\">first unit within %s<b>",
		report_fmt_dur(R->o->circle_ms, a, sizeof a));
	pct(out, t->within, t->responded);
	fprintf(out, "</b>%ld of %ld calls with an arrival</div>\n", t->within, t->responded);
	fputs("<div class=\"card\">response p90<b>", out);
	dur(out, t->seg[S_RESPONSE].n ? report_pct(&t->seg[S_RESPONSE], 90) : NONE);
	fputs("</b>receipt to first on scene</div>\n", out);
	fprintf(out, "<div class=\"card\">no arrival<b>%ld</b>calls nobody reached</div>\n",
		t->no_arrival);
	fprintf(out, "<div class=\"card\">misses<b>%ld</b>rings or circle missed</div>\n</div>\n",
		R->misses_total);
}

/* The segments of the whole selection. */
static void
html_segments(const struct rep *R, FILE *out)
{
	const struct group *g = &R->total;
	int s;

	fputs("<h2>Segments</h2>\n<table id=\"segments\">\n<tr><th>segment</th><th>per</th>"
	      "<th>n</th><th>no value</th><th>negative</th><th>p50</th><th>p90</th><th>p95</th>"
	      "</tr>\n",
	      out);
	for (s = 0; s < S_N; s++) {
		const struct seg_stat *st = &g->seg[s];

		fprintf(out,
			"<tr><td>%s</td><td>%s</td><td class=\"n\">%zu</td><td "
			"class=\"n\">%ld</td><td class=\"n\">%ld</td>",
			report_segs[s].name, report_segs[s].per_response ? "response" : "call",
			st->n, st->no_value, st->negative);
		for (int p = 0; p < 3; p++) {
			static const int ps[] = {50, 90, 95};

			fputs("<td class=\"n\">", out);
			dur(out, st->n ? report_pct(st, ps[p]) : NONE);
			fputs("</td>", out);
		}
		fputs("</tr>\n", out);
	}
	fputs("</table>\n<p class=\"note\">Exact nearest-rank percentiles of the raw values "
	      "(docs/metrics.md).</p>\n",
	      out);
}

/* Returns a bin width in seconds that cuts 0..UPPER_S into at most 40 bins. */
static int64_t
bin_width(int64_t upper_s)
{
	static const int64_t nice[] = {5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600};
	size_t i;

	for (i = 0; i < sizeof nice / sizeof nice[0]; i++)
		if (upper_s / nice[i] < 40)
			return nice[i];
	return upper_s / 40 + 1;
}

/* The distribution of the response (receipt to first on scene), with the ring deadlines
 * and the circle drawn on it. */
static void
html_distribution(const struct rep *R, FILE *out)
{
	const struct seg_stat *st = &R->total.seg[S_RESPONSE];
	const int W = 900, H = 300, L = 50, B = 40, T = 30;
	int64_t upper, width, maxc = 0, *bins;
	size_t nb, i;
	double pw, ph;
	char a[32];

	fputs("<h2>Response-time distribution</h2>\n", out);
	if (st->n == 0) {
		fputs("<p class=\"note\" id=\"chart-response-empty\">No call with an arrival: "
		      "nothing to draw.</p>\n",
		      out);
		return;
	}
	/* The x range: to the 99th percentile, and past every deadline drawn. */
	upper = report_pct(st, 99) / 1000 + 1;
	if (R->o->circle_ms / 1000 + 30 > upper)
		upper = R->o->circle_ms / 1000 + 30;
	for (i = 0; i < R->n_rl; i++)
		if (R->rl[i].ring_s + 30 > upper)
			upper = R->rl[i].ring_s + 30;
	width = bin_width(upper);
	nb = (size_t)((upper + width - 1) / width) + 1; /* the last bin: everything beyond */
	bins = xcalloc(nb, sizeof *bins);
	for (i = 0; i < st->n; i++) {
		size_t k = (size_t)(st->v[i] / 1000 / width);

		bins[k < nb - 1 ? k : nb - 1]++;
	}
	for (i = 0; i < nb; i++)
		if (bins[i] > maxc)
			maxc = bins[i];
	pw = (double)(W - L - 10) / (double)nb;
	ph = (double)(H - B - T) / (double)maxc;
	fprintf(out,
		"<svg id=\"chart-response\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n<title>Calls by time from "
		"receipt to the first unit on scene, %s bins</title>\n",
		W, H, W, H, report_fmt_dur(width * 1000, a, sizeof a));
	fprintf(out,
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n"
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n",
		L, H - B, W - 10, H - B, L, T, L, H - B);
	for (i = 0; i < nb; i++) {
		double h = (double)bins[i] * ph;

		fprintf(out,
			"<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			"fill=\"#5c6bc0\"><title>",
			L + (double)i * pw + 1, (double)(H - B) - h, pw > 2 ? pw - 2 : pw, h);
		if (i + 1 < nb)
			fprintf(out, "%s", report_fmt_dur((int64_t)i * width * 1000, a, sizeof a));
		else
			fprintf(out, "&#8805; %s",
				report_fmt_dur((int64_t)i * width * 1000, a, sizeof a));
		if (i + 1 < nb)
			fprintf(out, " .. %s",
				report_fmt_dur((int64_t)(i + 1) * width * 1000, a, sizeof a));
		fprintf(out, ": %" PRId64 " calls</title></rect>\n", bins[i]);
	}
	/* x ticks: about eight labels */
	for (i = 0; i < nb; i += (nb + 7) / 8)
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			L + (double)i * pw, H - B + 14,
			report_fmt_dur((int64_t)i * width * 1000, a, sizeof a));
	fprintf(out,
		"<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">receipt to first on scene "
		"(mm:ss)</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%" PRId64
		"</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n",
		W / 2, H - 6, L - 4, T + 4, maxc, L - 4, H - B);
	/* The circle, then each ring deadline (one line per deadline, its classes named). */
	{
		double x = L + (double)(R->o->circle_ms / 1000) / (double)width * pw;

		fprintf(out,
			"<line class=\"circle\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			"stroke=\"#c62828\" stroke-width=\"2\" stroke-dasharray=\"6 3\"/>\n"
			"<text x=\"%.1f\" y=\"%d\" fill=\"#c62828\">circle %s</text>\n",
			x, T - 10, x, H - B, x + 3, T - 12,
			report_fmt_dur(R->o->circle_ms, a, sizeof a));
	}
	for (i = 0; i < R->n_rl; i++) {
		double x = L + (double)R->rl[i].ring_s / (double)width * pw;
		size_t j;

		if (i > 0 && R->rl[i - 1].ring_s == R->rl[i].ring_s)
			continue; /* named with the first of its deadline */
		/* the label goes left of a line near the right edge */
		fprintf(out,
			"<line class=\"ring\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			"stroke=\"#ef6c00\" stroke-width=\"2\"/>\n<text x=\"%.1f\" y=\"%d\" "
			"fill=\"#ef6c00\" text-anchor=\"%s\">",
			x, T, x, H - B, x > W - 260 ? x - 3 : x + 3, T + 12 + (int)(i % 4) * 12,
			x > W - 260 ? "end" : "start");
		for (j = i; j < R->n_rl && R->rl[j].ring_s == R->rl[i].ring_s; j++) {
			if (j > i)
				fputs(", ", out);
			esc(out, R->rl[j].kind);
		}
		fprintf(out, " %s</text>\n", report_fmt_dur(R->rl[i].ring_s * 1000, a, sizeof a));
	}
	fputs("</svg>\n", out);
	free(bins);
}

/* Ring compliance by responder class: met, late and never arrived, as stacked bars. */
static void
html_rings(const struct rep *R, FILE *out)
{
	const struct group *g = &R->total;
	const int W = 900, row = 26, L = 170;
	size_t i;

	fputs("<h2>Ring compliance by responder class</h2>\n", out);
	if (g->n_rings == 0) {
		fputs("<p class=\"note\" id=\"chart-rings-empty\">No response carries a ring "
		      "deadline (an imported export has none): see the circle above.</p>\n",
		      out);
		return;
	}
	fprintf(out,
		"<svg id=\"chart-rings\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" role=\"img\">\n<title>Share of calls whose first arrival of the "
		"class met its ring deadline</title>\n",
		W, (int)g->n_rings * row + 30);
	for (i = 0; i < g->n_rings; i++) {
		const struct ring_stat *r = &g->rings[i];
		long judged = r->pairs - r->negative, late = judged - r->met - r->no_arrival;
		double full = W - L - 180, x = L, y = 10 + (double)i * row;
		const long parts[3] = {r->met, late, r->no_arrival};
		const char *cls[3] = {"met", "late", "none"},
			   *col[3] = {"#2e7d32", "#c62828", "#9e9e9e"};

		fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", L - 6, y + 14);
		esc(out, r->kind);
		fputs("</text>\n", out);
		for (int k = 0; k < 3 && judged > 0; k++) {
			double w = full * (double)parts[k] / (double)judged;

			if (parts[k] == 0)
				continue;
			fprintf(out,
				"<rect class=\"ring-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"18\" fill=\"%s\"><title>%s: %ld</title></rect>\n",
				cls[k], x, y, w, col[k], cls[k], parts[k]);
			x += w;
		}
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", L + full + 6, y + 14);
		pct(out, r->met, judged);
		fprintf(out, " met (%ld of %ld)</text>\n", r->met, judged);
	}
	fputs("</svg>\n<p class=\"note\">Green: the first arrival of the class within its ring; "
	      "red: later; grey: none of the class arrived.</p>\n",
	      out);
}

/* The four-colour status grid of zones. */
static void
html_status(const struct rep *R, FILE *out)
{
	const int cols = 10, tw = 86, th = 44, gap = 4;
	size_t i, n = R->zones.n;
	int rows = (int)((n + (size_t)cols - 1) / (size_t)cols);

	fprintf(out,
		"<h2>Status by %s</h2>\n<p class=\"note\">Share of a zone's calls whose "
		"first unit arrived within the circle (a call nobody reached counts against it): ",
		R->zone_attr >= 0 ? report_call_slices[R->zone_attr] : "place");
	fprintf(out,
		"<span style=\"color:%s\">green</span> &#8805; %g&#8239;%%, "
		"<span style=\"color:%s\">yellow</span> &#8805; %g&#8239;%%, "
		"<span style=\"color:%s\">orange</span> &#8805; %g&#8239;%%, "
		"<span style=\"color:%s\">red</span> below; grey: nothing to judge "
		"(--status-thresholds).</p>\n",
		fill_of("green"), R->o->status_green, fill_of("yellow"), R->o->status_yellow,
		fill_of("orange"), R->o->status_orange, fill_of("red"));
	if (n == 0) {
		fputs("<p class=\"note\">No calls.</p>\n", out);
		return;
	}
	fprintf(out,
		"<svg id=\"status-grid\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" role=\"img\">\n<title>Zones by status</title>\n",
		cols * (tw + gap), rows * (th + gap));
	for (i = 0; i < n; i++) {
		const struct group *z = R->zones.list[i];
		const char *status = report_zone_status(R, z), *ink;
		int x = (int)(i % (size_t)cols) * (tw + gap),
		    y = (int)(i / (size_t)cols) * (th + gap);
		long judged = z->responded + z->no_arrival;

		fprintf(out,
			"<g class=\"zone %s\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
			"rx=\"4\" fill=\"%s\"><title>",
			status, x, y, tw, th, fill_of(status));
		esc(out, z->key);
		fprintf(out, ": %ld of %ld calls within the circle, %ld not reached</title></rect>",
			z->within, judged, z->no_arrival);
		ink = strcmp(status, "yellow") == 0 ? "#212121" : "#fff";
		fprintf(out, "<text x=\"%d\" y=\"%d\" fill=\"%s\">", x + 5, y + 17, ink);
		esc(out, z->key);
		fprintf(out, "</text><text x=\"%d\" y=\"%d\" fill=\"%s\">", x + 5, y + 35, ink);
		pct(out, z->within, judged);
		fprintf(out, " (%ld)</text></g>\n", z->calls);
	}
	fputs("</svg>\n", out);
}

/* The department ranking, from the recorded times only. */
static void
html_ranking(const struct rep *R, FILE *out)
{
	struct group **rank = report_ranking(R);
	size_t i;

	fputs("<h2>Department ranking</h2>\n<p class=\"note\">Built only from the recorded "
	      "times of the orders: first by the share of ring deadlines met (a class that never "
	      "arrived is a miss), then by the 90th percentile from receipt to the department's "
	      "first unit on scene.</p>\n",
	      out);
	if (R->depts.n == 0) {
		fputs("<p class=\"note\">No responses.</p>\n", out);
		free(rank);
		return;
	}
	fputs("<table id=\"ranking\">\n<tr><th>#</th><th>department</th><th>calls</th>"
	      "<th>responses</th><th>rings met</th><th>share</th><th>receipt p50</th>"
	      "<th>turnout p90</th><th>response p90</th></tr>\n",
	      out);
	for (i = 0; i < R->depts.n; i++) {
		const struct group *g = rank[i];
		long met, judged, noarr;

		report_ring_sum(g, &met, &judged, &noarr);
		fprintf(out, "<tr><td class=\"n\">%zu</td><td>", i + 1);
		esc(out, g->key);
		fprintf(out,
			"</td><td class=\"n\">%ld</td><td class=\"n\">%ld</td><td "
			"class=\"n\">%ld of %ld</td><td class=\"n\">",
			g->calls, g->responses, met, judged);
		pct(out, met, judged);
		fputs("</td><td class=\"n\">", out);
		dur(out, g->seg[S_RECEIPT].n ? report_pct(&g->seg[S_RECEIPT], 50) : NONE);
		fputs("</td><td class=\"n\">", out);
		dur(out, g->seg[S_TURNOUT].n ? report_pct(&g->seg[S_TURNOUT], 90) : NONE);
		fputs("</td><td class=\"n\">", out);
		dur(out, g->seg[S_RESPONSE].n ? report_pct(&g->seg[S_RESPONSE], 90) : NONE);
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);
	free(rank);
}

/* The misses, counted by delay reason, then listed. */
static void
html_misses(const struct rep *R, FILE *out)
{
	char buf[64], a[32];
	size_t i;
	int code;

	fprintf(out,
		"<h2>Misses</h2>\n<p class=\"note\">A miss is a responder class of a call whose "
		"first arrival came after its ring deadline, or never; a call with no ring "
		"deadline misses when its first unit arrived after the circle, or never. %ld "
		"misses",
		R->misses_total);
	if ((long)R->n_misses < R->misses_total)
		fprintf(out, "; the first %zu by receipt time are listed", R->n_misses);
	fputs(".</p>\n<table id=\"miss-reasons\">\n<tr><th>delay reason</th><th>misses</th></tr>\n",
	      out);
	for (code = 1; code <= REPORT_REASONS; code++) {
		int c = code % REPORT_REASONS; /* "none given" last */

		if (R->by_reason[c] == 0)
			continue;
		fprintf(out, "<tr><td>%s</td><td class=\"n\">%ld</td></tr>\n",
			report_reason_name(c, buf, sizeof buf), R->by_reason[c]);
	}
	fputs("</table>\n", out);
	if (R->n_misses == 0)
		return;
	fputs("<table id=\"misses\">\n<tr><th>call</th><th>received</th><th>type</th><th>tier</th>"
	      "<th>place</th><th>class</th><th>department</th><th>deadline</th><th>first "
	      "arrival</th><th>delay reasons</th></tr>\n",
	      out);
	for (i = 0; i < R->n_misses; i++) {
		const struct miss *m = &R->misses[i];
		int first = 1;

		fputs("<tr><td>", out);
		esc(out, m->call);
		fprintf(out, "</td><td>%s</td><td>", report_fmt_time(m->received, a, sizeof a));
		esc(out, m->type);
		fputs("</td><td>", out);
		if (m->tier != NONE)
			fprintf(out, "%" PRId64, m->tier);
		fputs("</td><td>", out);
		esc(out, m->place);
		fputs("</td><td>", out);
		esc(out, m->kind ? m->kind : "(circle)");
		fputs("</td><td>", out);
		esc(out, m->dept);
		fputs("</td><td class=\"n\">", out);
		dur(out, m->ring_s == NONE ? R->o->circle_ms : m->ring_s * 1000);
		fputs("</td><td class=\"n\">", out);
		if (m->arrival_ms == NONE)
			fputs("none", out);
		else
			dur(out, m->arrival_ms);
		fputs("</td><td>", out);
		for (code = 1; code < REPORT_REASONS; code++)
			if (m->reasons & (1u << code)) {
				fprintf(out, "%s%s", first ? "" : ", ",
					report_reason_name(code, buf, sizeof buf));
				first = 0;
			}
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);
}

/* Whistle and report: each called department's answer. */
static void
html_whistles(const struct rep *R, FILE *out)
{
	static const char *const names[] = {"called", "on time", "late", "absent"};
	long n[4] = {0, 0, 0, 0}, rank_met = 0, head_met = 0;
	size_t i;

	fputs("<h2>Whistle and report</h2>\n", out);
	if (!R->daemon_db) {
		fputs("<p class=\"note\">Not recorded in this database (an imported dispatch "
		      "export has no whistles).</p>\n",
		      out);
		return;
	}
	for (i = 0; i < R->n_wh; i++) {
		n[R->wh[i].status >= 0 && R->wh[i].status <= 3 ? R->wh[i].status : 0]++;
		rank_met += R->wh[i].rank_met;
		head_met += R->wh[i].headcount_met;
	}
	fprintf(
	    out,
	    "<p id=\"whistle-summary\">%zu departments called: %ld on time, %ld late, %ld "
	    "absent, %ld not yet due; the leader's rank met by %ld, the headcount by %ld.</p>\n",
	    R->n_wh, n[1], n[2], n[3], n[0], rank_met, head_met);
	if (R->n_wh == 0)
		return;
	fputs("<table id=\"whistles\">\n<tr><th>whistle</th><th>place</th><th>matter</th>"
	      "<th>department</th><th>answer</th><th>arrived after</th><th>deadline</th>"
	      "<th>rank</th><th>headcount</th></tr>\n",
	      out);
	for (i = 0; i < R->n_wh; i++) {
		const struct whistle_row *w = &R->wh[i];

		fprintf(out, "<tr><td class=\"n\">%" PRId64 "</td><td>", w->id);
		esc(out, w->place);
		fputs("</td><td>", out);
		esc(out, w->matter);
		fputs("</td><td>", out);
		esc(out, w->dept);
		fprintf(out, "</td><td>%s</td><td class=\"n\">",
			names[w->status >= 0 && w->status <= 3 ? w->status : 0]);
		dur(out, w->arrived == NONE || w->blown == NONE ? NONE : w->arrived - w->blown);
		fputs("</td><td class=\"n\">", out);
		dur(out, w->deadline == NONE || w->blown == NONE ? NONE : w->deadline - w->blown);
		fprintf(out, "</td><td>%s</td><td>%s</td></tr>\n", w->rank_met ? "met" : "not met",
			w->headcount_met ? "met" : "not met");
	}
	fputs("</table>\n", out);
}

/* Alert diversions and the time they lost. */
static void
html_diversions(const struct rep *R, FILE *out)
{
	size_t i;

	fputs("<h2>Alert diversions</h2>\n", out);
	if (!R->daemon_db) {
		fputs("<p class=\"note\">Not recorded in this database (an imported dispatch "
		      "export has no diversions).</p>\n",
		      out);
		return;
	}
	fprintf(out, "<p id=\"diversion-summary\">Diversions: %zu", R->n_dv);
	if (R->n_dv) {
		fputs("; time lost from the report to the diversion: p50 ", out);
		dur(out, report_pct_of(R->lost, R->n_dv, 50));
		fputs(", p90 ", out);
		dur(out, report_pct_of(R->lost, R->n_dv, 90));
		fputs(", longest ", out);
		dur(out, R->lost[R->n_dv - 1]);
	}
	fputs(".</p>\n", out);
	if (R->n_dv == 0)
		return;
	fputs("<table id=\"diversions\">\n<tr><th>incident</th><th>type</th><th>from</th>"
	      "<th>to</th><th>reason</th><th>time lost</th></tr>\n",
	      out);
	for (i = 0; i < R->n_dv; i++) {
		const struct diversion *d = &R->dv[i];

		fprintf(out, "<tr><td class=\"n\">%" PRId64 "</td><td>", d->incident);
		esc(out, d->type);
		fputs("</td><td>", out);
		esc(out, d->from);
		fputs("</td><td>", out);
		esc(out, d->to);
		fputs("</td><td>", out);
		esc(out, d->reason);
		fputs("</td><td class=\"n\">", out);
		dur(out, d->lost_ms);
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);
}

/* The slice's groups, one row each. */
static void
html_slices(const struct rep *R, FILE *out)
{
	size_t i;

	if (R->slice == NULL)
		return;
	fputs("<h2>By ", out);
	esc(out, R->slice);
	fputs("</h2>\n<table id=\"slices\">\n<tr><th>", out);
	esc(out, R->slice);
	fputs("</th><th>calls</th><th>responses</th><th>response p50</th><th>response p90</th>"
	      "<th>within the circle</th><th>no arrival</th><th>rings met</th></tr>\n",
	      out);
	for (i = 0; i < R->groups.n; i++) {
		const struct group *g = R->groups.list[i];
		long met, judged, noarr;

		report_ring_sum(g, &met, &judged, &noarr);
		fputs("<tr><td>", out);
		esc(out, g->key);
		fprintf(out,
			"</td><td class=\"n\">%ld</td><td class=\"n\">%ld</td><td class=\"n\">",
			g->calls, g->responses);
		dur(out, g->seg[S_RESPONSE].n ? report_pct(&g->seg[S_RESPONSE], 50) : NONE);
		fputs("</td><td class=\"n\">", out);
		dur(out, g->seg[S_RESPONSE].n ? report_pct(&g->seg[S_RESPONSE], 90) : NONE);
		fputs("</td><td class=\"n\">", out);
		pct(out, g->within, g->responded + g->no_arrival);
		fprintf(out, "</td><td class=\"n\">%ld</td><td class=\"n\">", g->no_arrival);
		pct(out, met, judged);
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);
}

/* Writes the HTML report; see report_int.h. */
int
report_print_html(const struct rep *R, FILE *out)
{
	fputs(html_head, out);
	html_heading(R, out);
	if (R->o->preamble_html)
		fputs(R->o->preamble_html, out);
	html_segments(R, out);
	html_distribution(R, out);
	html_rings(R, out);
	html_status(R, out);
	html_ranking(R, out);
	html_misses(R, out);
	html_whistles(R, out);
	html_diversions(R, out);
	html_slices(R, out);
	fputs("<p class=\"note\">Written by muster report. Definitions: docs/metrics.md.</p>\n"
	      "</body>\n</html>\n",
	      out);
	return ferror(out) ? -1 : 0;
}
