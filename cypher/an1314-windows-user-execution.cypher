// ---
// id: AN1314
// name: Windows user execution chain
// strategy: DET0478
// technique: T1204
// surface: windows
// description: >-
//   A user-facing app (Office, PDF reader, archiver, browser, Explorer) opens a document or link, a
//   downloaded file lands in a user-writable path, the app's lineage starts a living-off-the-land binary
//   or installer, and that lineage talks to the network within minutes.
// alertPolicy: >-
//   Every chain is anchored on step 3: a process from highRiskChildren that descends from a process in
//   highRiskParents within maxDepth hops, with no other high-risk parent or child between them (the
//   app nearest to the first LOLBIN is the chain's root, so Explorer above Word, or PowerShell below
//   wscript, never make a second chain). Where COM, WMI or DCOM hide the real parent, the LOLBIN's
//   recorded parent is a broker (brokerParents) and the root is the user-facing app of the same user
//   on the same host started at most brokerLinkSeconds before the LOLBIN: a weaker link
//   (linkStrength 0.7), reported as such. Steps 1, 2 and 4 are looked for around that anchor:
//   step 1 (open, click or abnormal event) from a document or URL argument of the app, a document or
//   script (payloadExtensions) named on the command line of a process between the app and the LOLBIN,
//   noting a Mark-of-the-Web or a download of that file by a user-facing app, or a crash of the app
//   (Application Error, Windows Error Reporting) inside the window before the LOLBIN; step 2
//   (user-path file) from a payload file written or extracted under userPaths by the app or a process
//   between it and the LOLBIN, inside timeWindowMinutes before the LOLBIN started, or any file under
//   userPaths named on the LOLBIN's own command line; step 4 (egress) from an outbound connection, a
//   DNS query or a UNC path (SMB) opened by the LOLBIN or any descendant (maxDepth hops) inside
//   timeWindowMinutes after the LOLBIN started, to a destination that is not loopback, link-local,
//   multicast or covered by egressAllowList (domain suffixes, IPs, IPv4 CIDRs; an IP counts as covered
//   when the lineage resolved it from an allow-listed domain). clockSkewSeconds widens every window on
//   both sides, so a sensor with a skewed clock still joins by process identity.
//   Allow-lists never delete evidence: allow-listed egress is returned as suppressedEgress with the
//   entry that covered it, and a chain whose lineage runs a trusted updater (trustedUpdaters, anchored
//   on path, hash or signer, not on a name) is returned with suppressedBy and never alerts.
//   An ALERT needs steps 3 and 4 and at least one of steps 1 or 2. Every other chain is a partial
//   chain: hunts return it with its score, it is never raised as an alert.
//   score = (20*step1 + 20*step2 + 30*step3 + 30*step4) * linkStrength * (0.8 + 0.2*rarity)
//   + 10 when the root app itself runs from a user path, capped at 100; linkStrength is 1.0 for direct
//   process lineage and 0.7 for a broker link; rarity is 1/n for the n processes in the graph with the
//   LOLBIN's image name started by a process with its recorded parent's image name.
// params:
//   from:
//     type: DateTime
//     default: '2000-01-01T00:00:00Z'
//     description: Start of the hunt range (inclusive); chains whose LOLBIN started in range are returned.
//   to:
//     type: DateTime
//     default: '2100-01-01T00:00:00Z'
//     description: End of the hunt range (exclusive).
//   timeWindowMinutes:
//     type: Int
//     default: 15
//     description: DET0478 TimeWindow. Correlation window from document open to child and egress, anchored on the LOLBIN's start.
//   highRiskParents:
//     type: '[String]'
//     default: [winword.exe, excel.exe, powerpnt.exe, outlook.exe, acrord32.exe, acrobat.exe, chrome.exe, msedge.exe, firefox.exe, iexplore.exe, 7zfm.exe, winrar.exe, explorer.exe]
//     description: DET0478 HighRiskParents. Image names (lower case) of user-facing apps that should rarely spawn OS utilities.
//   highRiskChildren:
//     type: '[String]'
//     default: [powershell.exe, pwsh.exe, cmd.exe, wscript.exe, cscript.exe, mshta.exe, rundll32.exe, regsvr32.exe, msiexec.exe, curl.exe, bitsadmin.exe, pcalua.exe, expand.exe, tar.exe]
//     description: DET0478 HighRiskChildren. Image names (lower case) of living-off-the-land binaries and installers.
//   userPaths:
//     type: '[String]'
//     default: ['\downloads\', '\appdata\local\temp\', '\windows\temp\', '\appdata\roaming\', '\inetcache\', '\temporary internet files\', '\content.outlook\', '\onedrive', '\microsoft\teams\', '\microsoft\word\startup\', '\microsoft\excel\xlstart\']
//     description: >-
//       DET0478 UserPaths. Case-insensitive path fragments of user-writable folders (%USERPROFILE%\Downloads,
//       %TEMP%, %APPDATA%, browser caches, Outlook's secure temp, OneDrive and Teams caches, Office startup
//       folders). An entry that starts with re: is a Java regular expression matched against the whole
//       lower-case path.
//   ignoredPaths:
//     type: '[String]'
//     default: ['\microsoft\windows\recent\', '\appdata\local\microsoft\windows\history\', '\appdata\local\microsoft\windows\webcache\', '\appdata\local\microsoft\windows\explorer\']
//     description: Path fragments under userPaths that Windows itself writes on every open (jump lists, history, thumbnails); never step-2 evidence.
//   payloadExtensions:
//     type: '[String]'
//     default: [doc, docx, docm, dot, dotm, rtf, xls, xlsx, xlsm, xlsb, xll, ppt, pptx, pptm, pdf, one, hta, htm, html, js, jse, vbs, vbe, wsf, wsh, ps1, bat, cmd, lnk, url, chm, cpl, iso, img, vhd, vhdx, zip, rar, 7z, cab, msi, xsl, sct, inf, exe, dll, scr]
//     description: Extensions (lower case, no dot) of documents, scripts, archives and executables that count as opened (step 1) or downloaded (step 2).
//   egressAllowList:
//     type: '[String]'
//     default: [windowsupdate.com, update.microsoft.com, delivery.mp.microsoft.com, officecdn.microsoft.com, dl.google.com, update.googleapis.com, download.mozilla.org, aus5.mozilla.org]
//     description: >-
//       DET0478 EgressAllowList. Corporate update/CDN domains (a domain covers its subdomains), IP addresses
//       and IPv4 CIDRs (e.g. 10.20.0.0/16 for a proxy) whose traffic is not egress evidence.
//   maxDepth:
//     type: Int
//     default: 4
//     description: Most process hops followed from the app down to the LOLBIN, and from the LOLBIN down to the process that egresses (1 to 6).
//   clockSkewSeconds:
//     type: Int
//     default: 30
//     description: Tolerance added to both ends of every window, for sensors whose clocks disagree (raise it for a sensor with a skewed clock).
//   brokerParents:
//     type: '[String]'
//     default: [explorer.exe, svchost.exe, dllhost.exe, wmiprvse.exe, runtimebroker.exe]
//     description: Image names of COM, WMI and DCOM brokers that start processes on an app's behalf, hiding the real parent.
//   brokerLinkSeconds:
//     type: Int
//     default: 120
//     description: A LOLBIN started by a broker is linked to the user-facing app of the same user and host started at most this many seconds before it (a weaker link).
//   trustedUpdaters:
//     type: '[String]'
//     default: []
//     description: >-
//       Updaters whose lineage never alerts, anchored on more than a name: 'path:' and a case-insensitive
//       image path prefix (e.g. path:c:\program files (x86)\microsoft\edgeupdate\), 'sha256:' and an image
//       hash, or 'signer:' and the signer Sysmon 7 reported for the executable; several joined by ';' must
//       all hold (path:…;signer:Microsoft Corporation). A chain with such a process between the app and the
//       LOLBIN is returned with suppressedBy.
// ---
// Set every parameter first: `npm run cli -- params AN1314` prints a complete Neo4j Browser :params line
// with the defaults above. Then paste this file.

// Step 3 anchor: a LOLBIN started inside the hunt range.
MATCH (lolbin:Process)
WHERE lolbin.startTime >= datetime($from) AND lolbin.startTime < datetime($to)
  AND lolbin.imageName IN $highRiskChildren
WITH lolbin, duration({minutes: $timeWindowMinutes}) AS win, duration({seconds: $clockSkewSeconds}) AS skew

// Direct lineage: the nearest user-facing app above it, nothing high-risk between.
OPTIONAL MATCH lineage = (app:Process)-[:SPAWNED*1..6]->(lolbin)
WHERE length(lineage) <= $maxDepth
  AND app.imageName IN $highRiskParents
  AND none(n IN nodes(lineage)[1..-1] WHERE n.imageName IN $highRiskParents OR n.imageName IN $highRiskChildren)
  AND all(r IN relationships(lineage)
          WHERE r.time >= lolbin.startTime - win - skew AND r.time <= lolbin.startTime + skew)
WITH lolbin, win, skew, collect(lineage)[0] AS direct

// Broker link: the recorded parent is a COM/WMI/DCOM broker; the app is the user's, started just before.
OPTIONAL MATCH (broker:Process)-[bs:SPAWNED]->(lolbin)
WHERE broker.imageName IN $brokerParents
OPTIONAL MATCH (ua:Process)
WHERE broker IS NOT NULL AND ua.host = lolbin.host AND ua.user = lolbin.user AND ua <> broker
  AND ua.imageName IN $highRiskParents AND NOT ua.imageName IN $brokerParents
  AND ua.startTime <= lolbin.startTime + skew
  AND ua.startTime >= lolbin.startTime - duration({seconds: $brokerLinkSeconds}) - skew
  AND (ua.endTime IS NULL OR ua.endTime >= lolbin.startTime - skew)
WITH lolbin, win, skew, direct, broker, bs, ua
ORDER BY ua.startTime DESC
WITH lolbin, win, skew, direct,
     head(collect(CASE WHEN ua IS NOT NULL THEN {app: ua, broker: broker, edge: bs} END)) AS viaBroker
WITH lolbin, win, skew, direct, viaBroker,
     CASE WHEN viaBroker IS NOT NULL THEN viaBroker.app ELSE nodes(direct)[0] END AS app
WHERE app IS NOT NULL
WITH lolbin, win, skew, app, direct, viaBroker,
     CASE WHEN viaBroker IS NOT NULL THEN [viaBroker.app, lolbin] ELSE nodes(direct) END AS chainNodes,
     CASE WHEN viaBroker IS NOT NULL THEN 0.7 ELSE 1.0 END AS linkStrength

// Trusted updaters in the lineage (anchored on path, hash or signer).
// An entry is one or more anchors joined by ';' (path:…;signer:…), all holding for one process.
WITH *, [t IN $trustedUpdaters WHERE any(n IN chainNodes WHERE all(part IN split(t, ';') WHERE
          (part STARTS WITH 'path:' AND toLower(coalesce(n.image, '')) STARTS WITH toLower(substring(part, 5)))
          OR (part STARTS WITH 'sha256:' AND toUpper(coalesce(n.hashes, '')) CONTAINS 'SHA256=' + toUpper(substring(part, 7)))
          OR (part STARTS WITH 'signer:' AND n.signed = true AND toLower(coalesce(n.signer, '')) = toLower(substring(part, 7)))))
        ] AS suppressedBy

// Step 1: the open, click or abnormal event.
CALL (app, lolbin, chainNodes, win, skew) {
  OPTIONAL MATCH (p:Process)-[o:OPENED]->(f:File)
  WHERE p IN chainNodes AND f.ext IN $payloadExtensions
  OPTIONAL MATCH (dl:Process)-[dw:WROTE]->(f)
  WHERE dl.imageName IN $highRiskParents AND dw.time <= o.time + skew
  WITH app, lolbin, win, skew, p, o, f, head(collect(dl.imageName)) AS downloader
  WITH app, lolbin, win, skew,
       collect(DISTINCT {what: CASE WHEN f.motw THEN 'opened a file marked as downloaded (Mark-of-the-Web)'
                                    WHEN downloader IS NOT NULL THEN 'opened a file that ' + downloader + ' wrote'
                                    ELSE 'opened a document or script' END,
                         time: o.time, process: p, relation: o, target: f}) AS opened
  OPTIONAL MATCH (app)-[c:CRASHED]->(a:App)
  WHERE c.time >= lolbin.startTime - win - skew AND c.time <= lolbin.startTime + skew
  WITH app, opened,
       collect({what: 'user app crashed (' + c.crashKind + coalesce(', ' + c.module, '') + ')',
                time: c.time, process: app, relation: c, target: a}) AS crashed
  RETURN [x IN opened + crashed WHERE x.relation IS NOT NULL] +
         CASE WHEN app.commandLine =~ ('(?is)^\\s*("[^"]*"|\\S+)\\s+.*(https?://|\\.(' +
                   reduce(s = '', e IN $payloadExtensions | s + CASE s WHEN '' THEN '' ELSE '|' END + e) + ')\\b).*')
              THEN [{what: 'user app started with a document or link argument', time: app.startTime, process: app, relation: null, target: null}]
              ELSE [] END AS step1
}

// Step 2: a downloaded or unpacked file in a user-writable path, before the LOLBIN.
CALL (lolbin, chainNodes, win, skew) {
  OPTIONAL MATCH (p:Process)-[w:WROTE|EXTRACTED]->(f:File)
  WHERE p IN chainNodes AND p <> lolbin
    AND w.time >= lolbin.startTime - win - skew AND w.time <= lolbin.startTime + skew
    AND f.ext IN $payloadExtensions
    AND any(u IN $userPaths WHERE CASE WHEN u STARTS WITH 're:' THEN toLower(f.path) =~ substring(u, 3) ELSE toLower(f.path) CONTAINS toLower(u) END)
    AND none(u IN $ignoredPaths WHERE toLower(f.path) CONTAINS toLower(u))
  WITH lolbin, collect(DISTINCT {what: CASE type(w) WHEN 'EXTRACTED' THEN 'extracted a file into a user path' ELSE 'wrote a file into a user path' END,
                                 time: w.time, process: p, relation: w, target: f}) AS written
  OPTIONAL MATCH (lolbin)-[o:OPENED]->(f:File)
  WHERE any(u IN $userPaths WHERE CASE WHEN u STARTS WITH 're:' THEN toLower(f.path) =~ substring(u, 3) ELSE toLower(f.path) CONTAINS toLower(u) END)
    AND none(u IN $ignoredPaths WHERE toLower(f.path) CONTAINS toLower(u))
  WITH written, collect(DISTINCT {what: 'LOLBIN command line names a file in a user path', time: o.time, process: lolbin, relation: o, target: f}) AS named
  RETURN [x IN written + named WHERE x.relation IS NOT NULL] AS step2
}

// Step 4: egress from the LOLBIN or any descendant, after it started: connections, DNS, UNC paths (SMB).
CALL (lolbin, win, skew) {
  OPTIONAL MATCH down = (lolbin)-[:SPAWNED*0..6]->(p:Process)
  WHERE length(down) <= $maxDepth AND all(r IN relationships(down) WHERE r.time <= lolbin.startTime + win + skew)
  WITH lolbin, win, skew, p, collect(down)[0] AS down
  OPTIONAL MATCH (p)-[e:CONNECTED|RESOLVED|OPENED]->(d)
  WHERE e.time >= lolbin.startTime - skew AND e.time <= lolbin.startTime + win + skew
    AND coalesce(e.direction, 'outbound') = 'outbound'
    AND (d:Destination OR (d:File AND d.path STARTS WITH '\\\\'))
    AND NOT coalesce(d.scope, 'public') IN ['loopback', 'link-local', 'multicast', 'unspecified']
  WITH p, e, d, [n IN nodes(down) | n] AS via,
       CASE WHEN d:File THEN toLower(split(substring(d.path, 2), '\\')[0]) END AS uncHost
  WITH p, e, d, via, uncHost,
       [a IN $egressAllowList WHERE
          (d.domain IS NOT NULL AND NOT a CONTAINS '/' AND (d.domain = toLower(a) OR d.domain ENDS WITH '.' + toLower(a)))
          OR (e.dstHostname IS NOT NULL AND NOT a CONTAINS '/' AND (toLower(e.dstHostname) = toLower(a) OR toLower(e.dstHostname) ENDS WITH '.' + toLower(a)))
          OR (uncHost IS NOT NULL AND (uncHost = toLower(a) OR uncHost ENDS WITH '.' + toLower(a)))
          OR (d.ip IS NOT NULL AND d.ip = a)
          OR (d.ipNum IS NOT NULL AND a CONTAINS '/' AND a =~ '\\d+\\.\\d+\\.\\d+\\.\\d+/\\d+'
              AND d.ipNum / toInteger(2 ^ (32 - toInteger(split(a, '/')[1]))) =
                  reduce(n = 0, o IN split(split(a, '/')[0], '.') | n * 256 + toInteger(o)) / toInteger(2 ^ (32 - toInteger(split(a, '/')[1]))))
          OR (d.ip IS NOT NULL AND EXISTS {
                MATCH (dom:Destination)-[:RESOLVES_TO]->(d)
                WHERE dom.domain = toLower(a) OR dom.domain ENDS WITH '.' + toLower(a) })
       ] AS allowedBy
  WITH collect(CASE WHEN e IS NOT NULL AND size(allowedBy) = 0 THEN
                 {what: CASE type(e) WHEN 'RESOLVED' THEN 'DNS query' WHEN 'OPENED' THEN 'UNC path (SMB)' ELSE 'outbound connection' END,
                  time: e.time, process: p, relation: e, target: d, via: via} END) AS egress,
       collect(CASE WHEN e IS NOT NULL AND size(allowedBy) > 0 THEN
                 {what: 'egress covered by the allow-list', allowedBy: allowedBy, time: e.time, process: p, relation: e, target: d, via: via} END) AS suppressed
  RETURN egress AS step4, suppressed AS suppressedEgress
}

WITH app, lolbin, direct, viaBroker, chainNodes, linkStrength, suppressedBy, step1, step2, step4, suppressedEgress,
     size(step1) > 0 AS s1, size(step2) > 0 AS s2, size(step4) > 0 AS s4,
     CASE WHEN viaBroker IS NOT NULL THEN viaBroker.broker ELSE nodes(direct)[-2] END AS recordedParent
CALL (recordedParent, lolbin) {
  MATCH (x:Process)-[:SPAWNED]->(y:Process)
  WHERE x.imageName = recordedParent.imageName AND y.imageName = lolbin.imageName
  RETURN count(DISTINCT y) AS pairCount
}
WITH *, 1.0 / CASE WHEN pairCount < 1 THEN 1 ELSE pairCount END AS rarity,
     any(u IN $userPaths WHERE NOT u STARTS WITH 're:' AND toLower(coalesce(app.image, '')) CONTAINS toLower(u)) AS appFromUserPath
WITH *, (CASE WHEN s1 THEN 20 ELSE 0 END + CASE WHEN s2 THEN 20 ELSE 0 END + 30 + CASE WHEN s4 THEN 30 ELSE 0 END)
        * linkStrength * (0.8 + 0.2 * rarity) + CASE WHEN appFromUserPath THEN 10 ELSE 0 END AS raw
RETURN {
  analytic: 'AN1314',
  host: lolbin.host,
  user: coalesce(lolbin.user, app.user),
  root: app,
  lolbin: lolbin,
  lineage: chainNodes,
  link: CASE WHEN viaBroker IS NOT NULL THEN 'broker' ELSE 'direct' END,
  recordedParent: recordedParent,
  stepsFound: [s IN [[1, s1], [2, s2], [3, true], [4, s4]] WHERE s[1] | s[0]],
  alert: s4 AND (s1 OR s2) AND size(suppressedBy) = 0,
  suppressedBy: suppressedBy,
  linkStrength: linkStrength,
  rarity: rarity,
  score: toInteger(round(CASE WHEN raw > 100 THEN 100 ELSE raw END)),
  firstSeen: reduce(t = lolbin.startTime, x IN step1 + step2 + step4 | CASE WHEN x.time IS NOT NULL AND x.time < t THEN x.time ELSE t END),
  lastSeen: reduce(t = lolbin.startTime, x IN step1 + step2 + step4 | CASE WHEN x.time IS NOT NULL AND x.time > t THEN x.time ELSE t END),
  step1: step1,
  step2: step2,
  step3: CASE WHEN viaBroker IS NOT NULL
           THEN [{what: 'started by a broker (' + viaBroker.broker.imageName + '), the real parent hidden by COM/WMI',
                  time: viaBroker.edge.time, process: viaBroker.broker, relation: viaBroker.edge, target: lolbin},
                 {what: 'linked to ' + app.imageName + ' by user, host and time (weaker link)',
                  time: app.startTime, process: app, relation: null, target: lolbin}]
           ELSE [r IN relationships(direct) | {what: 'started', time: r.time, process: startNode(r), relation: r, target: endNode(r)}] END,
  step4: step4,
  suppressedEgress: suppressedEgress
} AS chain
ORDER BY chain.alert DESC, chain.score DESC, chain.firstSeen
