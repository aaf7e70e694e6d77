// The seed's operations and one enrollment, sent by two real JavaScript clients:
// graphql-request and Apollo Client (@apollo/client/core, with its normalising cache).
// Usage: node clients.mjs <graphql url> <bearer token>
//
// Prints on stdout one JSON object: for each client, what every step answered, and what the
// client surfaced for a bad token. The test (tests/test_js_clients.py) asserts on it.
import { randomUUID } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client/core';
import { ClientError, GraphQLClient } from 'graphql-request';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node clients.mjs <graphql url> <bearer token>');
  process.exit(2);
}

const CREATE_OFFER = gql`
  mutation CreateOffer($title: String!) {
    createOffer(offer: { title: $title, description: "Plan and deliver" }) {
      offer { id title description isActive }
    }
  }
`;
const CREATE_CONTENT_ITEM = gql`
  mutation CreateContentItem($title: String!) {
    createContentItem(contentItem: { type: TRAINING, title: $title }) {
      contentItem { id type title }
    }
  }
`;
const CREATE_OFFER_EVENT = gql`
  mutation CreateOfferEvent($offerId: UUID!, $contentId: UUID!) {
    createOfferEvent(
      offerEvent: {
        offerId: $offerId
        title: "Starting moment September"
        contentId: $contentId
        contentType: TRAINING
        maxParticipants: 20
      }
    ) {
      offerEvent { id title offerId contentId contentType contentTitle maxParticipants }
    }
  }
`;
const CREATE_OFFER_EVENT_DATE = gql`
  mutation CreateOfferEventDate($offerEventId: UUID!, $start: DateTime!, $end: DateTime!) {
    createOfferEventDate(offerEventDate: { offerEventId: $offerEventId, start: $start, end: $end }) {
      offerEventDate { id offerEventId start end }
    }
  }
`;
const OFFER_EVENT = gql`
  query OfferEvent($id: UUID!) {
    offerEvent(id: $id) { id title dates { start end } contentTitle spotsAvailable }
  }
`;
const OFFER = gql`
  query Offer($id: UUID!) {
    offer(id: $id) { id offerEvents { id title } }
  }
`;
const UPDATE_OFFER_EVENT = gql`
  mutation UpdateOfferEvent($id: UUID!) {
    updateOfferEvent(id: $id, offerEvent: { title: "Evening group", maxParticipants: 12 }) {
      offerEvent { id title maxParticipants spotsAvailable contentTitle }
    }
  }
`;
const CREATE_USER = gql`
  mutation CreateUser($name: String!, $email: String!) {
    createUser(user: { name: $name, email: $email }) { user { id name email } }
  }
`;
const ENROLL = gql`
  mutation Enroll($userId: UUID!, $offerEventId: UUID!) {
    enrollUserInOfferEvent(enrollment: { userId: $userId, offerEventId: $offerEventId }) {
      enrollment { id userId offerEventId status }
    }
  }
`;
const SEATS = gql`
  query Seats($id: UUID!) {
    offerEvent(id: $id) { id enrolledCount spotsAvailable }
  }
`;
const ARCHIVE_OFFER_EVENTS = gql`
  mutation ArchiveOfferEvents($ids: [UUID!]!) {
    archiveOfferEvents(archive: true, ids: $ids) { response { succeededIds failedIds } }
  }
`;
const IS_ACTIVE = gql`
  query IsActive($id: UUID!) {
    offerEvent(id: $id) { id isActive }
  }
`;

// One scenario, whatever the client: `query(doc, vars)` and `mutate(doc, vars)` give data.
async function scenario(name, { query, mutate }) {
  const steps = {};
  steps.createOffer = (await mutate(CREATE_OFFER, { title: `Project management (${name})` }))
    .createOffer.offer;
  steps.createContentItem = (await mutate(CREATE_CONTENT_ITEM, { title: `PM essentials (${name})` }))
    .createContentItem.contentItem;
  steps.createOfferEvent = (
    await mutate(CREATE_OFFER_EVENT, {
      offerId: steps.createOffer.id,
      contentId: steps.createContentItem.id,
    })
  ).createOfferEvent.offerEvent;
  const eventId = steps.createOfferEvent.id;
  steps.createOfferEventDates = [];
  for (const [start, end] of [
    ['2025-10-01T09:00:00+02:00', '2025-10-01T12:00:00+02:00'],
    ['2025-09-12T09:00:00Z', '2025-09-12T17:00:00Z'],
  ]) {
    steps.createOfferEventDates.push(
      (await mutate(CREATE_OFFER_EVENT_DATE, { offerEventId: eventId, start, end }))
        .createOfferEventDate.offerEventDate,
    );
  }
  steps.offerEvent = (await query(OFFER_EVENT, { id: eventId })).offerEvent;
  steps.offer = (await query(OFFER, { id: steps.createOffer.id })).offer;
  steps.updateOfferEvent = (await mutate(UPDATE_OFFER_EVENT, { id: eventId })).updateOfferEvent
    .offerEvent;
  steps.createUser = (
    await mutate(CREATE_USER, {
      name: `Ada (${name})`,
      email: `ada.${name}.${randomUUID()}@example.org`,
    })
  ).createUser.user;
  steps.enrollUserInOfferEvent = (
    await mutate(ENROLL, { userId: steps.createUser.id, offerEventId: eventId })
  ).enrollUserInOfferEvent.enrollment;
  steps.seatsAfterEnrollment = (await query(SEATS, { id: eventId })).offerEvent;
  steps.unknownId = randomUUID();
  steps.archiveOfferEvents = (
    await mutate(ARCHIVE_OFFER_EVENTS, { ids: [eventId, steps.unknownId] })
  ).archiveOfferEvents.response;
  steps.afterArchive = (await query(IS_ACTIVE, { id: eventId })).offerEvent;
  return steps;
}

// graphql-request ------------------------------------------------------------------------

function graphqlRequest(bearer) {
  const client = new GraphQLClient(url, { headers: { Authorization: `Bearer ${bearer}` } });
  const call = (document, variables) => client.request(document, variables);
  return { query: call, mutate: call };
}

async function graphqlRequestBadToken() {
  try {
    await graphqlRequest('not-a-token').query(OFFER_EVENT, { id: randomUUID() });
    return { surfaced: false };
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    return {
      surfaced: true,
      error: error.constructor.name,
      status: error.response.status,
      codes: (error.response.errors ?? []).map((e) => e.extensions?.code),
    };
  }
}

// Apollo Client --------------------------------------------------------------------------

function apollo(bearer) {
  // The HTTP statuses the link saw: Apollo Client reads a graphql-response+json error body
  // (the 401 too) as GraphQL errors and does not put the status on the error it throws.
  const statuses = [];
  const fetchAndRecord = async (input, init) => {
    const response = await fetch(input, init);
    statuses.push(response.status);
    return response;
  };
  const client = new ApolloClient({
    link: new HttpLink({
      uri: url,
      headers: { Authorization: `Bearer ${bearer}` },
      fetch: fetchAndRecord,
    }),
    cache: new InMemoryCache(),
  });
  return {
    client,
    statuses,
    // Reads go to the server: after a mutation the cache may not know what changed on it
    // (seats after an enrollment), and this test is about the wire, not the cache.
    query: async (document, variables) =>
      (await client.query({ query: document, variables, fetchPolicy: 'network-only' })).data,
    mutate: async (document, variables) =>
      (await client.mutate({ mutation: document, variables })).data,
  };
}

async function apolloBadToken() {
  const client = apollo('not-a-token');
  try {
    await client.query(OFFER_EVENT, { id: randomUUID() });
    return { surfaced: false };
  } catch (error) {
    return {
      surfaced: true,
      error: error.constructor.name,
      status: error.statusCode ?? client.statuses.at(-1),
      codes: (error.errors ?? []).map((e) => e.extensions?.code),
      message: error.message,
    };
  }
}

const report = {};
report.graphqlRequest = await scenario('graphql-request', graphqlRequest(token));
report.graphqlRequest.badToken = await graphqlRequestBadToken();
const apolloClient = apollo(token);
report.apollo = await scenario('apollo', apolloClient);
report.apollo.badToken = await apolloBadToken();
// The cache normalised what came back (typename + id): the offer event is one cache entry.
const cached = apolloClient.client.cache.extract();
report.apollo.cachedOfferEvent = cached[`OfferEvent:${report.apollo.createOfferEvent.id}`] ?? null;
for (const [client, steps] of Object.entries(report)) {
  const { status, codes } = steps.badToken;
  console.error(
    `${client}: enrollment ${steps.enrollUserInOfferEvent.status}, seats ` +
      `${steps.seatsAfterEnrollment.enrolledCount}/${steps.updateOfferEvent.maxParticipants}, ` +
      `bad token -> ${status} ${codes.join(',')}`,
  );
}
console.log(JSON.stringify(report));
