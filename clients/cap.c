/* cap: see cap.h. The XML is written by libxml2's text writer (escaping, encoding), never by
 * hand. CAP's required elements, in its order: identifier, sender, sent, status, msgType,
 * scope; then one info with category, event, urgency, severity, certainty and an area. */
#include "cap.h"

#include <libxml/xmlwriter.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define CAP_NS "urn:oasis:names:tc:emergency:cap:1.2"

/* The CAP category of incident type TYPE (by its prefix). */
static const char *
cap_category(const char *type)
{
	static const struct {
		const char *prefix, *category;
	} map[] = {
	    {"fire.", "Fire"},	       {"hazmat.", "CBRNE"},	{"attack.", "Security"},
	    {"crowd.", "Security"},    {"collapse.", "Geo"},	{"flood", "Met"},
	    {"traffic.", "Transport"}, {"accident.", "Safety"},
	};
	size_t i;

	for (i = 0; type && i < sizeof map / sizeof map[0]; i++)
		if (strncmp(type, map[i].prefix, strlen(map[i].prefix)) == 0)
			return map[i].category;
	return "Other";
}

/* Writes MS as CAP's time ("2026-11-22T20:00:00+00:00") into BUF. */
static const char *
cap_time(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%S+00:00", &tm) == 0)
		snprintf(buf, size, "1970-01-01T00:00:00+00:00");
	return buf;
}

/* Adds element NAME with TEXT; returns the writer's code (< 0 on error). */
static int
el(xmlTextWriterPtr w, const char *name, const char *text)
{
	return xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST(text ? text : ""));
}

int
cap_write(const Muster__Incident *inc, const char *sender, FILE *out)
{
	static const char *const severity[] = {"Unknown", "Extreme", "Severe", "Moderate"};
	xmlBufferPtr buf = xmlBufferCreate();
	xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
	const Muster__Location *loc = inc->location;
	int64_t sent = inc->closed_at_ms    ? inc->closed_at_ms
		       : inc->updated_at_ms ? inc->updated_at_ms
					    : inc->received_at_ms;
	char id[96], when[40], area[512], circle[96];
	int rc = 0;

	if (w == NULL) {
		if (buf)
			xmlBufferFree(buf);
		return -1;
	}
	snprintf(id, sizeof id, "muster-incident-%" PRIu64 "-%" PRId64, inc->id, sent);
	snprintf(area, sizeof area, "%s%s%s%s%s", loc && loc->place ? loc->place : "",
		 loc && loc->street && loc->street[0] ? ", street " : "",
		 loc && loc->street ? loc->street : "",
		 loc && loc->community && loc->community[0] ? ", community " : "",
		 loc && loc->community ? loc->community : "");
	rc |= xmlTextWriterSetIndent(w, 1);
	rc |= xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0;
	rc |= xmlTextWriterStartElementNS(w, NULL, BAD_CAST "alert", BAD_CAST CAP_NS) < 0;
	rc |= el(w, "identifier", id) < 0;
	rc |= el(w, "sender", sender) < 0;
	rc |= el(w, "sent", cap_time(sent, when, sizeof when)) < 0;
	rc |= el(w, "status", inc->exercise ? "Exercise" : "Actual") < 0;
	rc |= el(w, "msgType",
		 inc->updated_at_ms > inc->received_at_ms || inc->closed_at_ms ? "Update"
									       : "Alert") < 0;
	rc |= el(w, "scope", "Restricted") < 0;
	rc |=
	    el(w, "restriction", "the dispatch centre and the departments of the joint action") < 0;
	if (inc->exercise)
		rc |= el(w, "note", "EXERCISE: a drill incident, not a real emergency") < 0;
	rc |= xmlTextWriterStartElement(w, BAD_CAST "info") < 0;
	rc |= el(w, "category", cap_category(inc->type)) < 0;
	rc |= el(w, "event", inc->type) < 0;
	if (inc->closed_at_ms)
		rc |= el(w, "responseType", "AllClear") < 0;
	rc |= el(w, "urgency", inc->closed_at_ms ? "Past" : "Immediate") < 0;
	rc |= el(w, "severity", severity[inc->tier <= 3 ? inc->tier : 0]) < 0;
	rc |= el(w, "certainty", "Observed") < 0;
	if (inc->description && inc->description[0])
		rc |= el(w, "description", inc->description) < 0;
	rc |= xmlTextWriterStartElement(w, BAD_CAST "area") < 0;
	rc |= el(w, "areaDesc", area[0] ? area : "unknown") < 0;
	if (loc && loc->coords) {
		snprintf(circle, sizeof circle, "%.6f,%.6f 0.5", loc->coords->lat,
			 loc->coords->lon);
		rc |= el(w, "circle", circle) < 0;
	}
	rc |= xmlTextWriterEndElement(w) < 0; /* area */
	rc |= xmlTextWriterEndElement(w) < 0; /* info */
	rc |= xmlTextWriterEndElement(w) < 0; /* alert */
	rc |= xmlTextWriterEndDocument(w) < 0;
	xmlFreeTextWriter(w);
	if (rc == 0 && fwrite(xmlBufferContent(buf), 1, (size_t)xmlBufferLength(buf), out) !=
			   (size_t)xmlBufferLength(buf))
		rc = 1;
	xmlBufferFree(buf);
	return rc ? -1 : 0;
}
